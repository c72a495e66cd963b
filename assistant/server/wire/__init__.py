"""The OpenAI wire format, owned in one place.

``common`` holds what every endpoint shares (lenient request models, the Unicode check,
server-sent event framing, ids); ``chat`` the chat-completions request; ``frames`` the one
writer of completions, chunks, usage, error frames and ``[DONE]`` (used by fresh answers and
cache replays alike); ``prepared`` the request prepared once (messages, parameters, tools,
cache key) and passed on. Other endpoints add their own module here and reuse these.
"""
