"""Feedback from Slack: the message shortcut *Add as Einstein feedback* and its form.

    shortcut on a message ──▶ FeedbackForms.open
                          ──▶ views.open, then views.update with the labels
    a model chosen, typed ──▶ FeedbackForms.relabel
                          ──▶ views.update with that model's labels
    the form submitted    ──▶ FeedbackSubmissions.submit
                          ──▶ gatekeeper, POST v2/language/feedback, audit

form.py        `FeedbackForms`: opens the form, keeps its label menu in step with the model
submission.py  `FeedbackSubmissions`: adds the example, answered in the form or privately

The access rules are the retrain's people and channels (`Gatekeeper.check_teacher`, in the
submitter's workspace): whoever may retrain a model may teach it. Option limits, the rate limit
and approvals are not asked: adding an example retrains nothing. A submission is answered in
the form when it can be: Slack waits 3 s for a view submission, so the check and Einstein's call
get `ANSWER_WITHIN` seconds; a refusal (the rules, an unknown label, an unknown model) then
shows under its field and the example is not added. If Einstein is slower the form closes, the
call goes on, and the person hears privately how it ended. The client resends a feedback only
when Einstein surely took nothing, so a slow answer never adds the example twice.

Each example is audited (`AuditKind.FEEDBACK`) with its label, its document's length and the
workspace it came from; the document itself is neither audited nor logged. The form offers the
models of recent trainings of the person's workspace only.
"""
