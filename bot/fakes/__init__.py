"""Local stand-ins for Slack and Einstein: the offline demo, the tests and the benchmarks use them.

Nothing in the product imports this package; it is installed with the bot so that
`python -m bot demo` and `python -m bot simulator` work from an installed copy.

    einstein/    the Einstein Language API simulator (trainings, metrics, faults, OAuth)
    slack/       a fake Slack Web API, response_urls, uploads, and request signing
    loopback.py  free ports, readiness checks and model IDs on the loopback interface
    keys.py      RSA key pairs for the simulator's accounts
"""
