"""The shared vocabulary of Tidewater: numbers, ids, commands, events, rejects, topic names.

It imports nothing from the other packages; every service meets the others here and on Redis.
"""
