"""The language-learning endpoints: level feedback, conversation topics, session summaries.

Pure modules hold the facts code computes (``levels``, ``scores``, ``speaking_time``,
``vocabulary``); ``feedback``, ``topics`` and ``summary`` ask the model for wording only,
through ``services.structured``, and assemble the answers in code.
"""
