"""What telephony does for the call queue (``routing.calls``): the queue's prompts (welcome,
position, voice intake, hold music; WAVs in ``telephony/assets``) and ``media.QueueMedia``, which
plays them, rings an operator's extension, bridges and hangs up as the queue decides."""
