"""Everything that speaks to Slack's Web API or shapes what Slack shows.

ids.py      every action, block and callback id, in one enum module
blocks.py   Block Kit of the card and the thread replies
views.py    the retrain form and the App Home tab
notify.py   `Notifier`: posts, edits and private answers
outbox.py   `Outbox`: the only Web API caller; per-channel pacing, coalesced edits, retries
"""
