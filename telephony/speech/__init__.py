"""Speech recognition (vosk): live transcripts during a call and post-call transcription.

- ``engine``   ``SpeechEngine``: the model, the recognizer pool, the live-stream limit; ``transcribe_wav``.
- ``stream``   ``Transcriber``: one live stream (energy detector, silence gate, partial/final text).
- ``loading``  the engine for a process, or ``SpeechOff`` saying why transcription is off.
- ``audio``    the recognizers' audio format; ``cli`` is ``hotline speech check``.
"""
