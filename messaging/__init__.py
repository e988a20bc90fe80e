"""SMS notices to citizens: templates, the ``sms_messages`` outbox, opt-outs, signed rating links
and sending through a Kannel gateway's HTTP ``sendsms`` interface (with delivery reports)."""
