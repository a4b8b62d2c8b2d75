"""What the app needs from its host: an AI binding and settings, as one object.

``base`` holds the protocol and is safe everywhere; ``workers`` is for workerd only;
``local``, ``embedded`` and ``remote`` are for the CPython host only.
"""
