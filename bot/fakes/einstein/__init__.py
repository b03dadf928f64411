"""The Einstein Language API simulator: `EinsteinSimulator` in `simulator.py`.

service.py   models and trainings as the API shows them
datasets.py  datasets, as the API shows them
training.py  the life of one training: queue, epochs, outcome
objects.py   the training, model and dataset objects the API answers with
metrics.py   metrics and learning curves of finished trainings
feedback.py  the examples of a dataset, feedback examples added to it
requests.py  reading and checking requests as the real API does
routes.py    the HTTP routes, one per operation of the spec, and reading forms
auth.py      the OAuth JWT-bearer grant and token checks
faults.py    scripted outages, 429s and slow answers
script.py    the YAML scripts of `python -m bot simulator --script`
cli.py       the simulator served standalone
"""
