"""The pure core: no network, no database, no clock of its own.

grammar.py   command text → typed command or a specific `UsageError`; options; help text
jobs.py      the job value, the state machine and what a job owes Slack
schedule.py  the follower's timing and when to poll next
compare.py   before/after metrics of a retrain
mrkdwn.py    escaping for Slack mrkdwn, percentages and durations as the bot writes them
"""
