"""The simulation's way into the center: its public HTTP API and its two sockets, with signed tokens."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

from core.roles import Role
from core.tokens import TokenSigner

TOKEN_TTL_S = 24 * 3600


class ApiError(RuntimeError):
    """The center answered a request with an unexpected status."""

    def __init__(self, method: str, path: str, status: int, body: Any) -> None:
        super().__init__(f"{method} {path}: {status} {body}")
        self.status = status
        self.body = body


# the center could not be reached or went away (a restart, a shutdown): clients try again later
UNREACHABLE: tuple[type[Exception], ...] = (OSError, TimeoutError, httpx.HTTPError, WebSocketException)
# a request that did not do what was asked: refused, or the center unreachable
FAILED: tuple[type[Exception], ...] = (ApiError, *UNREACHABLE)


class Api:
    """One HTTP connection pool to the center, and tokens for whoever the simulation plays."""

    def __init__(self, base_url: str, signer: TokenSigner) -> None:
        self.base_url = base_url.rstrip("/")
        self.ws_url = "ws" + self.base_url.removeprefix("http")
        self.signer = signer
        self._tokens: dict[tuple[Role, str, int | None, str | None], str] = {}
        # no proxy from the environment may stand between the simulation and the center
        self.http = httpx.AsyncClient(
            base_url=self.base_url, timeout=30, trust_env=False,
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=32),
        )  # fmt: skip

    async def close(self) -> None:
        await self.http.aclose()

    def token(
        self, role: Role, subject: str | None = None, unit_id: int | None = None, area: str | None = None
    ) -> str:
        """A token for a role (a unit's for ``unit_id``; a community seat's for ``area``)."""
        key = (role, subject or role.value, unit_id, area)
        if key not in self._tokens:
            level = "community" if area else None
            self._tokens[key] = self.signer.issue(role, f"sim-{key[1]}", unit_id=unit_id, ttl_s=TOKEN_TTL_S,
                                                  level=level, area=area)  # fmt: skip
        return self._tokens[key]

    async def request(
        self, method: str, path: str, role: Role, body: Any = None, *, ok: tuple[int, ...] = (200, 201, 202),
        subject: str | None = None, area: str | None = None,
    ) -> Any:  # fmt: skip
        """The answer's JSON; ApiError for a status outside ``ok``."""
        headers = {"Authorization": f"Bearer {self.token(role, subject, area=area)}"}
        content = orjson.dumps(body) if body is not None else None
        if content is not None:
            headers["Content-Type"] = "application/json"
        reply = await self.http.request(method, path, content=content, headers=headers)
        data = orjson.loads(reply.content) if reply.content else None
        if reply.status_code not in ok:
            raise ApiError(method, path, reply.status_code, data)
        return data

    async def get(self, path: str, role: Role = Role.DISPATCHER) -> Any:
        return await self.request("GET", path, role)

    async def every(self, path: str, role: Role = Role.DISPATCHER, query: str = "") -> list[Any]:
        """Every item of a paged list, walked page by page along its ``next`` cursors."""
        items: list[Any] = []
        after = ""
        while True:
            answer = await self.get(f"{path}?limit=1000{query}{after}", role)
            items.extend(answer["items"])
            if answer["next"] is None:
                return items
            after = f"&after={answer['next']}"

    async def wait_ready(self, timeout_s: float = 60.0) -> None:
        """Until ``/readyz`` answers 200 (the server is listening and its stores are up)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            try:
                if (await self.http.get("/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if loop.time() > deadline:
                raise TimeoutError(f"the center at {self.base_url} did not get ready in {timeout_s:.0f} s")
            await asyncio.sleep(0.2)

    async def socket(self, path: str, token: str, **auth: Any) -> tuple[ClientConnection, dict[str, Any]]:
        """An authenticated socket and the center's first frame (hello or snapshot)."""
        ws = await connect(self.ws_url + path, open_timeout=30, max_size=64 << 20, proxy=None,
                           compression=None)  # fmt: skip
        try:
            await ws.send(orjson.dumps({"type": "auth", "token": token, **auth}).decode())
            first: dict[str, Any] = orjson.loads(await asyncio.wait_for(ws.recv(), 30))
        except BaseException:
            await ws.close()
            raise
        return ws, first
