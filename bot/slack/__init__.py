"""Everything that speaks to Slack's Web API or shapes what Slack shows.

ids.py      every action, block and callback id, in one enum module
look.py     what every message shares: Slack's limits, a status's emoji and name, `Message`
card.py     the card: the parent message of a retrain and its buttons
replies.py  the thread replies and the alerts
views.py    the modals: the retrain form and the reject form
home.py     the App Home tab
notify.py   `Notifier`: the card and its thread; private answers, DMs and views through its parts
private.py  `PrivateAnswers`: what only one person sees (response_url, ephemeral or DM)
surfaces.py `Surfaces`: modals opened and updated, Home tabs published (`views.*`)
groups.py   `UserGroups`: who is in a Slack user group, for the gatekeeper
marks.py    how the bot knows its own posts again (message metadata, file names)
outbox.py   `Outbox`: the only Web API caller; per-channel queues, coalesced edits, retries
delivery.py `Courier`: a lane's head call tried until answered: withdrawn, paced, fenced, retried
sender.py   `Sender`: one attempt, with the client of its workspace's token, counted
lanes.py    what waits in a lane, and its pacing: post gap, 429 holds, backoff
failures.py one Web API attempt, and whether its failure is transient or permanent
"""
