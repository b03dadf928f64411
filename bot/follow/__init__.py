"""Following trainings: submit, poll Einstein, keep the thread current, hold the leases.

follower.py    `Follower`: one task per followed job, with the leases that entitle it to them
observer.py    `Observer`: polls Einstein for every held job on its schedule, writes what changed
submit.py      submitting a retrain: once, looking before sending again, adopting what started
polls.py       polling a training through the state machine, then its success report
deliverer.py   `Deliverer`: one Slack queue per channel, each job in its turn
poster.py      `Poster`: the next post a job owes, recorded; a refused or failed one dealt with
card_edits.py  when a card is edited: a new state at once, progress in its turn, coalesced
readback.py    reading a thread back after a restart, refused channels, links, the pictures' upload
pictures.py    what a finished training's learning curve and confusion matrix are drawn from
drawing.py     where they are drawn: a thread, or worker processes when many trainings wait
charts.py      those pictures as PNG
curve.py       drawing the learning curve
heatmap.py     drawing the confusion matrix
canvas.py      the drawing primitives both use, on Pillow
"""
