"""A bare FastAPI app on the Worker (the SDK's ASGI adapter), bench/worker_cpu.mjs's baseline:
GET /health and a POST that validates a small body and answers JSON, no middleware."""

from fastapi import FastAPI
from pydantic import BaseModel
from workers import WorkerEntrypoint, asgi

app = FastAPI()


class Chat(BaseModel):
    model: str
    messages: list[dict[str, str]]
    max_tokens: int | None = None


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/v1/chat/completions")
async def chat(body: Chat) -> dict[str, object]:
    return {"object": "chat.completion", "model": body.model, "choices": []}


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return await asgi.fetch(app, request, self.env, self.ctx)
