"""Bolt listeners: ack within Slack's 3 seconds, parse, hand the work on.

commands.py  `/retrain` and its subcommands
actions.py   the card's buttons, the reject form and the App Home tab
forms.py     the retrain form's submission
feedback.py  the *Add as Einstein feedback* message shortcut and its form
workspace.py  which workspace an interaction comes from (the access rules may name workspaces)
"""
