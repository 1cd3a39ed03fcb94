"""nbgrader's configuration for the r21d-edu lab (run nbgrader from this folder, or from a copy
made by ``python scripts/make_lab.py --release DIR``).

The source notebooks under source/ are written by scripts/make_lab.py from the exercise
registry; do not edit them by hand, edit the exercise and re-run the script.
"""

c = get_config()  # noqa: F821 - nbgrader defines it when it reads this file

c.CourseDirectory.course_id = "r21d-edu"
# The stub a learner sees is the one `exercise("NN.k").skeleton()` shows (r21d_edu.exercises).
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
# A check imports torch and builds small layers: the first cell of a fresh kernel can take a
# few seconds on a busy machine, well under this.
c.Execute.timeout = 120
