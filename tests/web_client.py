"""A browser without a browser: the web chat (bot/web/) driven over HTTP with forms, as a
person with JavaScript switched off uses it (tests/test_web.py)."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import ClientSession, CookieJar, web
from aiohttp.test_utils import TestServer
from yarl import URL

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_NOW = re.compile(r'<li class="msg bot" id="now"[^>]*>(.*?)</li>', re.S)
_TAGS = re.compile(r"<[^>]+>")


class WebCitizen:
    """One browser: its own cookie jar."""

    def __init__(self, client: ClientSession, server: TestServer) -> None:
        self.client = client
        self.server = server
        self.page = ""
        self.status = 0

    @property
    def cookies(self) -> dict[str, str]:
        return {cookie.key: cookie.value for cookie in self.client.cookie_jar}

    async def open(self, path: str = "/") -> str:
        response = await self.client.get(path)
        self.status = response.status
        self.page = await response.text()
        return self.page

    async def press(self, action: str, **fields: Any) -> str:
        """A button of the current page, with its form's CSRF token (and any fields)."""
        data: list[tuple[str, str]] = [("csrf", self.csrf), ("action", action)]
        for name, value in fields.items():
            for item in value if isinstance(value, list) else [value]:
                data.append((name, str(item)))
        return await self.post(data)

    async def post(self, data: list[tuple[str, str]]) -> str:
        response = await self.client.post("/", data=data)
        self.status = response.status
        self.page = await response.text()
        return self.page

    @property
    def csrf(self) -> str:
        found = _CSRF.search(self.page)
        assert found, "no form on the page"
        return html.unescape(found.group(1))

    @property
    def now(self) -> str:
        """The current step's message as text."""
        found = _NOW.search(self.page)
        assert found, self.page
        return html.unescape(_TAGS.sub("", found.group(1)))

    async def take_part(
        self, topics: list[str], impulse: str | None = None, impulse_topic: str | None = None
    ) -> None:
        await self.open()
        await self.press("consent")
        await self.press("topics", topic=topics)
        if impulse is None:
            await self.press("skip")
        else:
            await self.press("impulse", impulse=impulse)
            if len(topics) > 1:
                await self.press("impulse_topic", topic=impulse_topic or topics[0])
        await self.press("submit")


@asynccontextmanager
async def served(app: web.Application) -> AsyncIterator[TestServer]:
    server = TestServer(app)
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


@asynccontextmanager
async def browser(
    server: TestServer, cookies: Mapping[str, str] | None = None
) -> AsyncIterator[WebCitizen]:
    """The cookie is Secure: this test server over plain http counts as a secure origin, as
    browsers count localhost. `cookies`: an earlier browser's (the same person again)."""
    root = URL(str(server.make_url("/")))
    jar = CookieJar(unsafe=True, treat_as_secure_origin=[root])
    if cookies:
        jar.update_cookies(cookies, root)
    async with ClientSession(base_url=root, cookie_jar=jar) as client:
        yield WebCitizen(client, server)
