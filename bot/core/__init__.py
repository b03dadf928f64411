"""The pure core: no network, no database, no clock of its own.

options.py   the option table `OPTIONS` and the validated `RetrainOptions`
kinds.py     the kinds of option value: how each is typed, checked and written back
grammar.py   command text → typed command or a specific `UsageError`; the subcommands
words.py     the words a command is made of: text checks, the model ID, `name=value` options
help.py      the usage line and the help text, drawn from both tables
jobs.py      the job value
machine/     the state machine: every transition, Einstein's, people's and Slack's
owed.py      what a job owes Slack
schedule.py  the follower's timing and when to poll next
compare.py   before/after metrics of a retrain
recurrence.py  a cron line in a time zone (cronsim, zoneinfo): the next run, missed runs
autoretrain.py  schedules and feedback triggers: the value, its IDs, the job a fire starts
mrkdwn.py    Slack mrkdwn escaping, one-line shortening, percentages and durations
requester.py  who asks, where, and how to answer them privately
workspaces.py  which team a row belongs to; rows stored without one
"""
