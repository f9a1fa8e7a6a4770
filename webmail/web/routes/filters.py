"""/settings/filters: server-side rules over ManageSieve (webmail.sieve), and what the Sieve pages share."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from webmail.auth.sessions import Session
from webmail.errors import WebmailError
from webmail.imap.store import MailStore
from webmail.mail.render import parse_headers
from webmail.sieve.errors import RuleError, ScriptRejectedError, SieveError
from webmail.sieve.rules import ACTIONS, FIELD_NAMES, SIZE_OPS, TEXT_OPS, FilterSet, Rule
from webmail.sieve.service import FilterState, SieveAccount
from webmail.sieve.suggest import Suggestion, suggestions
from webmail.web.csrf import csrf_protect
from webmail.web.deps import MailStoreDep, Services, ServicesDep, SessionDep, SieveAccountDep
from webmail.web.filter_forms import (
    blank_draft,
    draft_from_form,
    draft_from_rule,
    form_version,
    rule_from_form,
)
from webmail.web.forms import form_list
from webmail.web.htmx import HtmxDetails, redirect
from webmail.web.templating import render, url

router = APIRouter(dependencies=[Depends(csrf_protect)])
TEST_LAST = 500  # "would match 37 of the last 500 messages"
SAVED = {
    "rule": "Filter saved.",
    "order": "Order saved.",
    "toggle": "Filter switched.",
    "delete": "Filter deleted.",
    "script": "Script saved.",
    "replaced": "The other program's script is kept, inactive; your filters here are now active.",
    "active": "Active script changed.",
}


def _index(form: FormData, state: FilterState, name: str = "index") -> int:
    raw = form.get(name)
    if not isinstance(raw, str) or not raw.isdigit() or int(raw) >= len(state.current.rules):
        raise RuleError(name, "This filter does not exist (any more); the page shows them as they are now.")
    return int(raw)


async def _folders(store: MailStore) -> list[str]:
    return [folder.name for folder in await store.list_folders() if folder.selectable]


async def sieve_context(
    request: Request,
    services: Services,
    session: Session,
    account: SieveAccount,
    *,
    saved: Mapping[str, str],
    error: str,
) -> tuple[dict[str, Any], FilterState | None]:
    """What the Sieve pages (filters, vacation) have in common: the script as the server has it,
    or in words why there is none (``unavailable``), the change just saved and the error."""
    context: dict[str, Any] = {
        "session": session,
        "error": error,
        "saved": saved.get(request.query_params.get("saved", ""), ""),
        "today": date.today(),
    }
    try:
        state = await services.filters.state(account)
    except SieveError as exc:
        context.update(unavailable=exc.user_message, state=None)
        return context, None
    context.update(state=state, unavailable="")
    return context, state


@dataclass(frozen=True)
class FiltersPage:
    """The Filters page of one request, to show (again) with a draft, an error or a result."""

    request: Request
    services: Services
    session: Session
    account: SieveAccount
    store: MailStore

    async def show(
        self,
        *,
        draft: dict[str, Any] | None = None,
        error: str = "",
        status_code: int = 200,
        raw_text: str | None = None,
        check_result: str = "",
        test_result: str = "",
        suggested: list[Suggestion] | None = None,
    ) -> Response:
        """The page; says so in words when there is no ManageSieve service."""
        request = self.request
        context, state = await sieve_context(
            request, self.services, self.session, self.account, saved=SAVED, error=error
        )
        context.update(
            check_result=check_result,
            test_result=test_result,
            suggested=suggested or [],
            field_names=FIELD_NAMES,
            text_ops=TEXT_OPS,
            size_ops=SIZE_OPS,
            actions=ACTIONS,
        )
        if state is None:
            return render(request, "pages/filters.html", context, status_code=status_code)
        context.update(
            folders=await _folders(self.store),
            draft=draft or blank_draft(request.query_params.get("folder") or "INBOX"),
            raw_text=state.script if raw_text is None else raw_text,
        )
        htmx = HtmxDetails(request)
        block = "filter_rules" if htmx and htmx.target == "filter-rules" else None
        return render(request, "pages/filters.html", context, status_code=status_code, block_name=block)

    async def refuse(
        self, exc: WebmailError, *, draft: dict[str, Any] | None = None, raw_text: str | None = None
    ) -> Response:
        """The page again, with what was refused said in words (422)."""
        return await self.show(draft=draft, raw_text=raw_text, error=exc.user_message, status_code=422)

    async def change_rules(self, change: Callable[[FilterState, FormData], FilterSet], what: str) -> Response:
        """Store the rules ``change`` makes of the current ones (the form's ``version`` guarding
        them), then the rules list again for htmx, or the page saying ``what`` was saved."""
        form = await self.request.form()
        filters = self.services.filters
        state = await filters.state(self.account)
        changed = change(state, form)
        await filters.update(self.account, lambda _: changed, version=form_version(form))
        htmx = HtmxDetails(self.request)
        if htmx and htmx.target == "filter-rules":
            return await self.show()
        return _done(self.request, what)


async def get_filters_page(
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    account: SieveAccountDep,
    store: MailStoreDep,
) -> FiltersPage:
    return FiltersPage(request, services, session, account, store)


FiltersPageDep = Annotated[FiltersPage, Depends(get_filters_page)]


def _done(request: Request, what: str) -> Response:
    return redirect(request, url(request, f"/settings/filters?saved={what}"))


def _existing(state: FilterState, index: int) -> int:
    """``index`` when the filters have a rule there, else RuleError."""
    if index >= len(state.current.rules):
        raise RuleError("index", "This filter does not exist (any more).")
    return index


@router.get("/settings/filters")
async def show_filters(page: FiltersPageDep) -> Response:
    return await page.show()


@router.get("/settings/filters/new")
async def new_filter(page: FiltersPageDep) -> Response:
    """The builder prefilled from a message (``folder``, ``uid``; ``by`` = list, from or subject)."""
    query = page.request.query_params
    folder = query.get("folder") or "INBOX"
    uid = query.get("uid", "")
    found: list[Suggestion] = []
    if uid.isdigit():
        fetched = await page.store.message(folder, int(uid))
        found = suggestions(parse_headers(fetched.header))
    by = query.get("by", "")
    chosen = next((s for s in found if s.by == by), found[0] if found else None)
    conditions = [(chosen.field, chosen.op, chosen.value)] if chosen else []
    return await page.show(draft=blank_draft(folder, conditions), suggested=found)


@router.post("/settings/filters/like")
async def filter_like_selected(request: Request) -> Response:
    """ "Filter messages like this" from the selection bar: the first selected message."""
    form = await request.form()
    folder = str(form.get("folder") or "INBOX")
    uids = [u for u in form_list(form, "uid") if u.isdigit()]
    query = f"?folder={quote(folder, safe='')}" + (f"&uid={uids[0]}" if uids else "")
    return redirect(request, url(request, "/settings/filters/new" + query))


@router.get("/settings/filters/{index:int}/edit")
async def edit_filter(page: FiltersPageDep, index: int) -> Response:
    state = await page.services.filters.state(page.account)
    rule = state.current.rules[_existing(state, index)]
    draft = draft_from_rule(rule, index, page.request.query_params.get("folder") or "INBOX")
    return await page.show(draft=draft)


@router.post("/settings/filters")
async def save_filter(page: FiltersPageDep) -> Response:
    """Create a rule (or, with ``index``, replace that one); discard and reject ask first."""
    form = await page.request.form()
    draft = draft_from_form(form)
    try:
        state = await page.services.filters.state(page.account)
        rule = rule_from_form(form, state.capabilities.sieve)
        index = draft["index"]
        if index is not None:
            _existing(state, index)
    except RuleError as exc:
        return await page.refuse(exc, draft=draft)
    if rule.drastic and form.get("confirm") != "yes":
        context = {"session": page.session, "rule": rule, "fields": _pairs(form)}
        return render(page.request, "pages/filter_confirm.html", context)

    def change(filters: FilterSet) -> FilterSet:
        rules = list(filters.rules)
        if index is None:
            rules.append(rule)
        else:
            rules[index] = rule
        return filters.with_rules(rules)

    try:
        await page.services.filters.update(
            page.account, change, version=form_version(form), replace_foreign=form.get("replace") == "yes"
        )
    except (RuleError, ScriptRejectedError) as exc:
        return await page.refuse(exc, draft=draft)
    return _done(page.request, "rule")


def _pairs(form: FormData) -> list[tuple[str, str]]:
    return [
        (k, v) for k, v in form.multi_items() if isinstance(v, str) and k not in ("csrf_token", "confirm")
    ]


@router.post("/settings/filters/test")
async def test_filter(page: FiltersPageDep) -> Response:
    """How many of the current folder's last 500 messages the builder's rule would match."""
    form = await page.request.form()
    folder = str(form.get("folder") or "INBOX")
    draft = draft_from_form(form)
    try:
        rule = rule_from_form(form, (await page.services.filters.state(page.account)).capabilities.sieve)
        result = await _test_result(page.store, rule, folder)
    except RuleError as exc:
        result = exc.user_message
    htmx = HtmxDetails(page.request)
    if htmx and htmx.target == "rule-test":
        return render(page.request, "partials/_filter_test.html", {"test_result": result})
    return await page.show(draft=draft, test_result=result)


async def _test_result(store: MailStore, rule: Rule, folder: str) -> str:
    search = rule.search_criteria()
    if search is None:
        return "This rule cannot be tried here (regular expressions are matched only by the server)."
    criteria, exact = search
    matched, examined = await store.count_recent_matches(folder, criteria, last=TEST_LAST)
    if not examined:
        return f"{folder} is empty: nothing to try the rule on."
    count = f"{matched}" if exact else f"at most {matched}"
    return f"Would match {count} of the last {examined} messages in {folder}."


@router.post("/settings/filters/{index:int}/toggle")
async def toggle_filter(page: FiltersPageDep, index: int) -> Response:
    def change(state: FilterState, form: FormData) -> FilterSet:
        rules = list(state.current.rules)
        rule = rules[_existing(state, index)]
        rules[index] = replace(rule, enabled=not rule.enabled)
        return state.current.with_rules(rules)

    return await page.change_rules(change, "toggle")


@router.post("/settings/filters/{index:int}/delete")
async def delete_filter(page: FiltersPageDep, index: int) -> Response:
    def change(state: FilterState, form: FormData) -> FilterSet:
        rules = list(state.current.rules)
        del rules[_existing(state, index)]
        return state.current.with_rules(rules)

    return await page.change_rules(change, "delete")


@router.post("/settings/filters/order")
async def reorder_filters(page: FiltersPageDep) -> Response:
    """A new order: ``order`` lists every rule's old index (drag and drop), or ``index`` with
    ``move`` up or down (the buttons without JavaScript)."""

    def change(state: FilterState, form: FormData) -> FilterSet:
        rules = list(state.current.rules)
        order = [part for value in form_list(form, "order") for part in value.split(",") if part.strip()]
        if order:
            if sorted(order, key=lambda p: int(p) if p.isdigit() else -1) != [
                str(i) for i in range(len(rules))
            ]:
                raise RuleError(
                    "order", "The filters changed meanwhile; the page shows them as they are now."
                )
            return state.current.with_rules([rules[int(i)] for i in order])
        index = _index(form, state)
        other = index - 1 if form.get("move") == "up" else index + 1
        if 0 <= other < len(rules):
            rules[index], rules[other] = rules[other], rules[index]
        return state.current.with_rules(rules)

    return await page.change_rules(change, "order")


@router.post("/settings/filters/replace")
async def replace_foreign_script(
    request: Request, services: ServicesDep, account: SieveAccountDep
) -> Response:
    """Start filters here in place of another program's active script (kept, inactive)."""
    form = await request.form()
    await services.filters.update(
        account, lambda filters: filters, version=form_version(form), replace_foreign=True
    )
    return _done(request, "replaced")


@router.post("/settings/filters/raw/check")
async def check_script(page: FiltersPageDep) -> Response:
    """CHECKSCRIPT: the server's verdict on hand-written Sieve, nothing stored."""
    script = str((await page.request.form()).get("script") or "")
    try:
        warnings = await page.services.filters.check_script(page.account, script)
    except ScriptRejectedError as exc:
        return await page.refuse(exc, raw_text=script)
    result = f"The server accepts this script. {warnings}".strip()
    return await page.show(raw_text=script, check_result=result)


@router.post("/settings/filters/raw")
async def save_script(page: FiltersPageDep) -> Response:
    form = await page.request.form()
    script = str(form.get("script") or "")
    try:
        await page.services.filters.save_script(page.account, script, version=form_version(form))
    except ScriptRejectedError as exc:
        return await page.refuse(exc, raw_text=script)
    return _done(page.request, "script")


@router.post("/settings/filters/scripts/activate")
async def activate_script(request: Request, services: ServicesDep, account: SieveAccountDep) -> Response:
    name = str((await request.form()).get("name") or "")
    await services.filters.activate(account, name)
    return _done(request, "active")


@router.post("/settings/filters/scripts/delete")
async def delete_script(request: Request, services: ServicesDep, account: SieveAccountDep) -> Response:
    name = str((await request.form()).get("name") or "")
    await services.filters.delete(account, name)
    return _done(request, "delete")
