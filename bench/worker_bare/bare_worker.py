"""A bare Python Worker, the floor of bench/worker_cpu.mjs: one Response, no framework."""

from workers import Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response('{"status":"ok"}', headers={"content-type": "application/json"})
