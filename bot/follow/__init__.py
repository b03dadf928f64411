"""Following trainings: submit, poll Einstein, keep the thread current, hold the leases.

follower.py  `Follower`: one task per followed job, with the leases that entitle it to them
pictures.py  the learning curve and confusion matrix of a finished training
charts.py    drawing those pictures with Pillow
"""
