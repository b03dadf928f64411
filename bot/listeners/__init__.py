"""Bolt listeners: ack within Slack's 3 seconds, parse, hand the work on.

commands.py  `/retrain` and its subcommands
actions.py   the card's buttons, the retrain form and the App Home tab
"""
