"""Media: the audio of a call.

- ``rtp``        RTP streams, the media engine (one 20 ms clock), codecs, port pool.
- ``session``    ``CallSession``: one owner per call for its legs, recordings and transcripts.
- ``bridge``     mixing and copying frames between the legs of a session (jitter buffer, hold audio).
- ``transfers``  blind/consult/emergency transfers and the three-party call, on a session.
- ``wav``        reading greetings and prompts as 16-bit 8 kHz PCM.
"""
