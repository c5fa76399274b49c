// The page: screens drawn from the worker's answers. It holds no data of its own; the worker
// (and the store behind it) is the one place a contact lives. Screens, by address:
//   #/                      home: the groups on this phone, start a group
//   #/g/GROUP               a group: its leads and meetings, log a door, contacts (leads: all,
//                           and a CSV download)
//   #/g/GROUP/m/MEETING     a meeting's agenda and notes, which members and leads add to
//   #/g/GROUP/score         the scorecard: each official's answers, rule by rule; record one
//   #/g/GROUP/actions       action items
//   #/g/GROUP/members       the roster; leads remove a device
//   #/g/GROUP/invite        leads make an invite: its link and QR code
//   #CODE                   an invite link opened (`/join#CODE`)
// The status line says what is not sent yet and when the relay was last reached. A screen is
// redrawn when sync brings changes, keeping what is being typed.

import { type Key, type Language, pickLanguage, rulesEs, translate } from "./i18n";
import type {
  Action,
  Ask,
  Board,
  Contact,
  ContactPage,
  Group,
  InviteInfo,
  Joined,
  MadeInvite,
  Meeting,
  MeetingDetail,
  Member,
  NewContact,
  Reply,
  Rule,
  ScorecardRow,
  Status,
  Target,
} from "./protocol";

const RESULTS = ["talked", "not-home", "refused", "moved", "inaccessible", "language-barrier", "wrong-address", "other"];
const INTERESTS = ["attend", "host", "volunteer"];

let lang: Language = pickLanguage(localStorage.getItem("lang"), navigator.languages);
const t = (key: Key, values?: Record<string, string | number>) => translate(lang, key, values);

// --- the worker ---

const worker = new Worker(new URL("worker.js", import.meta.url), { type: "module" });
let nextId = 1;
const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
let status: Status = { state: "offline", pending: null, unsent: 0, lastSynced: null, error: null };

worker.onmessage = (event: MessageEvent) => {
  const data = event.data as
    | Reply
    | { status: Status }
    | { changed: string[]; wiped: string[] }
    | { removed: string[]; erased: boolean };
  if ("removed" in data) {
    removal = { erased: data.erased };
    if (data.erased) {
      // Everything erased: no later answer redraws over this, and there is no sync to tell.
      gone = true;
      window.removeEventListener("hashchange", onHashChange);
      statusLine.replaceChildren();
    } else history.replaceState(null, "", "#/removed");
    drawRemoved();
  } else if ("status" in data) {
    status = data.status;
    if (!gone) drawStatus();
  } else if ("changed" in data) {
    void route(true);
  } else {
    const w = waiting.get(data.id);
    waiting.delete(data.id);
    if (data.ok) w?.resolve(data.value);
    else w?.reject(new Error(data.error));
  }
};

function ask<T>(question: Ask): Promise<T> {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
    worker.postMessage({ id, ask: question });
  });
}

// --- drawing ---

type Child = Node | string | null | undefined | false;

function h(tag: string, attrs: Record<string, string | boolean | EventListener> = {}, ...children: Child[]) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (value === true) el.setAttribute(name, "");
    else if (value !== false) el.setAttribute(name, value);
  }
  for (const child of children) if (child) el.append(child);
  return el;
}

const main = document.getElementById("main") as HTMLElement;
const statusLine = document.getElementById("status") as HTMLElement;

/** Set once this phone was removed and erased: nothing else is drawn. */
let gone = false;
/** The last removal by a lead, and whether it erased everything (this phone's last group). */
let removal: { erased: boolean } | null = null;

/** Says that a lead removed this phone from a group, and what was erased. */
function drawRemoved() {
  main.replaceChildren(
    h("h1", { tabindex: "-1" }, t("removedTitle")),
    h("p", { role: "alert" }, t("removedText")),
    removal?.erased ? h("p", {}, t("erasedText")) : h("p", {}, h("a", { href: "#/" }, t("back"))),
  );
  main.querySelector("h1")?.focus();
}

/** What was just done on this screen ("Saved on this phone"), kept when sync redraws it. */
let notice: { hash: string; text: string } | null = null;

/** Says what was just done, in the screen's `.saved` line, until the person goes elsewhere. */
function say(text: string) {
  notice = { hash: location.hash, text };
  const line = main.querySelector(".saved");
  if (line) line.textContent = text;
}

function show(...children: Child[]) {
  // A screen still being drawn when a removal was shown (it asked before the wipe) stays away.
  if (gone || location.hash === "#/removed") return;
  main.replaceChildren(...children.filter((c): c is Node | string => !!c));
  const line = main.querySelector(".saved");
  if (line && notice?.hash === location.hash) line.textContent = notice.text;
  const heading = main.querySelector("h1");
  if (heading) {
    heading.setAttribute("tabindex", "-1");
    heading.focus();
  }
}

function drawStatus() {
  const parts = [t(`status.${status.state}` as Key)];
  if (status.unsent > 0) parts.push(status.unsent === 1 ? t("notSentOne") : t("notSent", { n: status.unsent }));
  else if (status.pending === 0) parts.push(t("allSent"));
  if (status.lastSynced)
    parts.push(t("lastReached", { time: new Date(status.lastSynced).toLocaleTimeString(lang, { hour: "numeric", minute: "2-digit" }) }));
  else if (status.state !== "connected") parts.push(t("never"));
  const button = status.state === "connected" ? null : h("button", { type: "button", onclick: () => void ask({ op: "syncNow" }) }, t("syncNow"));
  statusLine.replaceChildren(parts.join(" · "), button ? " " : "", button ?? "");
}

function drawChrome() {
  document.documentElement.lang = lang;
  document.title = t("appName");
  const toggle = document.getElementById("lang") as HTMLButtonElement;
  toggle.textContent = t("language");
  toggle.onclick = () => {
    lang = lang === "en" ? "es" : "en";
    localStorage.setItem("lang", lang);
    drawChrome();
    if (gone) return drawRemoved();
    drawStatus();
    void route(true);
  };
}

// --- screens ---

async function home() {
  const groups = await ask<Group[]>({ op: "groups" });
  const nameInput = h("input", { id: "group-name", name: "name", required: true, autocomplete: "off" }) as HTMLInputElement;
  const leadInput = h("input", { id: "lead-name", name: "lead", required: true, autocomplete: "name" }) as HTMLInputElement;
  show(
    h("h1", {}, t("yourGroups")),
    groups.length === 0 ? h("p", {}, t("noGroups")) : null,
    groups.length > 0
      ? h("ul", { class: "groups" }, ...groups.map((g) => h("li", {}, h("a", { href: `#/g/${g.group_id}` }, g.name))))
      : null,
    h(
      "form",
      {
        class: "card",
        onsubmit: async (e: Event) => {
          e.preventDefault();
          // Its meetings' times are in this phone's time zone unless a lead sets another.
          const zone = Intl.DateTimeFormat().resolvedOptions().timeZone ?? "";
          const id = await ask<string>({ op: "createGroup", name: nameInput.value, lead: leadInput.value, zone });
          location.hash = `#/g/${id}`;
        },
      },
      h("h2", {}, t("startGroup")),
      h("label", { for: "group-name" }, t("groupName")),
      nameInput,
      h("label", { for: "lead-name" }, t("yourName")),
      leadInput,
      h("button", { type: "submit" }, t("create")),
    ),
  );
}

function describe(c: Contact): string {
  const bits = [t(`result.${c.result}` as Key)];
  if (c.support !== null) bits.push(`${c.support}/5`);
  if (c.place) bits.push(c.place);
  if (c.name) bits.push(c.name);
  if (c.follow_up) bits.push(t("followUpMark"));
  return bits.join(" · ");
}

/** A meeting's time in its own zone (the browser's time zone database), with the zone's name. */
function when(m: { at: number | null; zone: string | null }): string {
  if (m.at === null) return t("noTime");
  const options: Intl.DateTimeFormatOptions = {
    weekday: "short",
    month: "short",
    day: "numeric",
    hour: "numeric",
    minute: "2-digit",
    timeZoneName: "short",
  };
  try {
    return new Date(m.at).toLocaleString(lang, { ...options, timeZone: m.zone ?? undefined });
  } catch {
    return new Date(m.at).toLocaleString(lang, options);
  }
}

async function joinScreen(link: string) {
  let invite: InviteInfo;
  try {
    invite = await ask<InviteInfo>({ op: "invite", link });
  } catch (err) {
    show(h("h1", {}, t("joinTitle")), h("p", { role: "alert" }, (err as Error).message), h("p", {}, h("a", { href: "#/" }, t("back"))));
    return;
  }
  const name = h("input", { id: "your-name", name: "name", required: true, autocomplete: "name" }) as HTMLInputElement;
  const problem = h("p", { role: "alert" });
  show(
    h("h1", {}, t("joinTitle")),
    h("p", {}, t("joinAs", { role: t(`role.${invite.role}` as Key) })),
    h(
      "form",
      {
        class: "card",
        onsubmit: async (e: Event) => {
          e.preventDefault();
          problem.textContent = t("joining");
          try {
            const joined = await ask<Joined>({ op: "join", link, name: name.value });
            history.replaceState(null, "", `#/g/${joined.group_id}`);
            await route();
          } catch (err) {
            problem.textContent = (err as Error).message;
          }
        },
      },
      h("label", { for: "your-name" }, t("yourName")),
      name,
      h("button", { type: "submit" }, t("join")),
      problem,
    ),
  );
}

async function group(groupId: string) {
  const [groups, contacts, meetings, leads] = await Promise.all([
    ask<Group[]>({ op: "groups" }),
    ask<ContactPage>({ op: "contacts", group: groupId }),
    ask<Meeting[]>({ op: "meetings", group: groupId }).catch(() => [] as Meeting[]),
    ask<string[]>({ op: "leads", group: groupId }).catch(() => [] as string[]),
  ]);
  const info = groups.find((g) => g.group_id === groupId);
  const canvasser = info?.role === "canvasser";
  const form = h("form", { class: "card", id: "door" }) as HTMLFormElement;
  const radio = (name: string, value: string, label: string) =>
    h("label", { class: "choice" }, h("input", { type: "radio", name, value, required: name === "result" }), label);
  const check = (name: string, value: string, label: string) =>
    h("label", { class: "choice" }, h("input", { type: "checkbox", name, value }), label);
  const details = h(
    "div",
    { id: "details", hidden: true },
    h("label", { for: "name" }, t("name")),
    h("input", { id: "name", name: "name", autocomplete: "off" }),
    h("label", { for: "phone" }, t("phone")),
    h("input", { id: "phone", name: "phone", type: "tel", autocomplete: "off" }),
    h("label", { for: "email" }, t("email")),
    h("input", { id: "email", name: "email", type: "email", autocomplete: "off" }),
  );
  const consent = h("input", {
    type: "checkbox",
    name: "consent",
    id: "consent",
    onchange: (e: Event) => {
      details.hidden = !(e.target as HTMLInputElement).checked;
    },
  });
  const note = h("p", { role: "status", class: "saved" });
  form.append(
    h("h2", {}, t("logDoor")),
    h("fieldset", {}, h("legend", {}, t("result")), ...RESULTS.map((r) => radio("result", r, t(`result.${r}` as Key)))),
    h("fieldset", { class: "row" }, h("legend", {}, t("support")), ...[1, 2, 3, 4, 5].map((n) => radio("support", String(n), String(n)))),
    h("fieldset", {}, h("legend", {}, t("interests")), ...INTERESTS.map((i) => check("interests", i, t(`interest.${i}` as Key)))),
    h("label", { class: "choice" }, h("input", { type: "checkbox", name: "follow_up" }), t("followUp")),
    h("label", { for: "place" }, t("place")),
    h("input", { id: "place", name: "place", autocomplete: "off" }),
    h("label", { for: "note" }, t("note")),
    h("textarea", { id: "note", name: "note", rows: "3" }),
    h("label", { class: "choice" }, consent, t("consent")),
    details,
    h("button", { type: "submit" }, t("save")),
    note,
  );
  form.onsubmit = async (e) => {
    e.preventDefault();
    const data = new FormData(form);
    const text = (name: string) => {
      const v = String(data.get(name) ?? "").trim();
      return v === "" ? undefined : v;
    };
    const agreed = data.get("consent") !== null;
    const contact: NewContact = {
      result: String(data.get("result")),
      support: data.get("support") ? Number(data.get("support")) : undefined,
      interests: data.getAll("interests").map(String),
      follow_up: data.get("follow_up") !== null,
      place: text("place"),
      note: text("note"),
      consent: agreed,
      name: agreed ? text("name") : undefined,
      phone: agreed ? text("phone") : undefined,
      email: agreed ? text("email") : undefined,
    };
    try {
      await ask<string>({ op: "logContact", group: groupId, contact });
      await group(groupId);
      say(t("saved"));
    } catch (err) {
      note.textContent = (err as Error).message;
    }
  };
  const lead = info?.role === "lead";
  const links: [string, Key][] = canvasser
    ? []
    : [
        ["score", "scorecard"],
        ["actions", "actions"],
        ["members", "members"],
        ["board", "board"],
        ...(lead ? ([["invite", "invite"]] as [string, Key][]) : []),
      ];
  const csvNote = h("p", { role: "status", class: "saved" });
  // The newest 50; more a page at a time, so a phone with thousands opens at once.
  const row = (c: Contact) => h("li", { "data-contact": c.contact_id }, describe(c));
  const list = h("ul", { class: "contacts", "aria-label": lead ? t("groupContacts") : t("yourContacts") }, ...contacts.items.map(row));
  let next = contacts.next;
  const more = h("button", {
    type: "button",
    class: "secondary",
    hidden: next === null,
    onclick: async () => {
      const page = await ask<ContactPage>({ op: "contacts", group: groupId, after: next ?? "" });
      list.append(...page.items.map(row));
      next = page.next;
      more.hidden = next === null;
    },
  }, t("showMore"));
  show(
    h("p", {}, h("a", { href: "#/" }, t("back"))),
    h("h1", {}, info?.name || t("groupArriving")),
    leads.length > 0 ? h("p", { class: "leads" }, t("leads", { names: leads.join(", ") })) : null,
    links.length > 0
      ? h("nav", { "aria-label": info?.name ?? "" }, h("ul", { class: "tabs" }, ...links.map(([path, key]) => h("li", {}, h("a", { href: `#/g/${groupId}/${path}` }, t(key))))))
      : null,
    meetings.length > 0 || !canvasser
      ? h(
          "section",
          { "aria-labelledby": "meetings-heading" },
          h("h2", { id: "meetings-heading" }, t("meetings")),
          h(
            "ul",
            { class: "meetings" },
            ...meetings.map((m) =>
              h(
                "li",
                {},
                // Members and leads open a meeting's agenda and notes; canvassers see its line.
                canvasser ? h("strong", {}, m.title) : h("a", { href: `#/g/${groupId}/m/${m.meeting_id}` }, h("strong", {}, m.title)),
                h("br"),
                when(m),
                m.location ? ` · ${m.location}` : "",
              ),
            ),
          ),
          canvasser ? null : newMeeting(groupId),
        )
      : null,
    form,
    h("h2", {}, `${lead ? t("groupContacts") : t("yourContacts")} (${contacts.total})`),
    contacts.total === 0 ? h("p", {}, t("noContacts")) : list,
    more,
    lead && contacts.total > 0
      ? h("button", { type: "button", class: "secondary", onclick: () => void downloadCsv(groupId, info?.name ?? "group", csvNote) }, t("downloadCsv"))
      : null,
    csvNote,
  );
}

/** The form for one of the group's own meetings (members and leads), folded until opened. */
function newMeeting(groupId: string): HTMLElement {
  const title = h("input", { id: "meeting-title", name: "title", required: true, autocomplete: "off" }) as HTMLInputElement;
  const at = h("input", { id: "meeting-at", name: "at", type: "datetime-local" }) as HTMLInputElement;
  const place = h("input", { id: "meeting-place", name: "place", autocomplete: "off" }) as HTMLInputElement;
  const canvassers = h("input", { type: "checkbox", id: "meeting-canvassers", name: "canvassers" }) as HTMLInputElement;
  const problem = h("p", { role: "alert" });
  return h(
    "details",
    { class: "card" },
    h("summary", {}, t("newMeeting")),
    h(
      "form",
      {
        onsubmit: async (e: Event) => {
          e.preventDefault();
          try {
            const id = await ask<string>({
              op: "createMeeting",
              group: groupId,
              title: title.value,
              at: at.value,
              location: place.value,
              canvassers: canvassers.checked,
            });
            location.hash = `#/g/${groupId}/m/${id}`;
          } catch (err) {
            problem.textContent = (err as Error).message;
          }
        },
      },
      h("label", { for: "meeting-title" }, t("meetingTitle")),
      title,
      h("label", { for: "meeting-at" }, t("meetingAt")),
      at,
      h("label", { for: "meeting-place" }, t("meetingPlace")),
      place,
      h("label", { class: "choice" }, canvassers, t("showCanvassers")),
      h("button", { type: "submit" }, t("create")),
      problem,
    ),
  );
}

async function meetingScreen(groupId: string, meetingId: string) {
  const m = await ask<MeetingDetail>({ op: "meeting", meeting: meetingId });
  const item = h("input", { id: "agenda-item", name: "item", required: true, autocomplete: "off" }) as HTMLInputElement;
  const more = h("textarea", { id: "more-notes", name: "notes", rows: "4", required: true, "aria-describedby": "notes-hint" }) as HTMLTextAreaElement;
  const done = h("p", { role: "status", class: "saved" });
  const adding = (what: () => Promise<unknown>) => async (e: Event) => {
    e.preventDefault();
    try {
      await what();
      await meetingScreen(groupId, meetingId);
      say(t("savedHere"));
    } catch (err) {
      done.textContent = (err as Error).message;
    }
  };
  show(
    h("p", {}, h("a", { href: `#/g/${groupId}` }, t("back"))),
    h("h1", {}, m.title),
    h("p", {}, when(m), m.location ? ` · ${m.location}` : ""),
    h(
      "section",
      { "aria-labelledby": "agenda-heading" },
      h("h2", { id: "agenda-heading" }, t("agenda")),
      m.agenda.length === 0
        ? h("p", {}, t("noAgenda"))
        : h("ol", { class: "agenda" }, ...m.agenda.map((i) => h("li", { "data-item": i.item_id }, i.text))),
      h(
        "form",
        { class: "card", onsubmit: adding(() => ask({ op: "addAgendaItem", meeting: meetingId, text: item.value })) },
        h("label", { for: "agenda-item" }, t("addAgendaItem")),
        item,
        h("button", { type: "submit" }, t("add")),
      ),
    ),
    h(
      "section",
      { "aria-labelledby": "notes-heading" },
      h("h2", { id: "notes-heading" }, t("notes")),
      m.notes === "" ? h("p", {}, t("noNotes")) : h("div", { class: "notes" }, m.notes),
      h(
        "form",
        { class: "card", onsubmit: adding(() => ask({ op: "appendNotes", meeting: meetingId, text: more.value })) },
        h("label", { for: "more-notes" }, t("addNotes")),
        h("p", { id: "notes-hint", class: "hint" }, t("addNotesHint")),
        more,
        h("button", { type: "submit" }, t("add")),
      ),
    ),
    done,
  );
}

/** The group's contacts as a CSV file, made on this phone and handed to the browser to save. */
async function downloadCsv(groupId: string, name: string, note: HTMLElement) {
  try {
    const { count, csv } = await ask<{ count: number; csv: string }>({ op: "contactsCsv", group: groupId });
    const file = `${name.replace(/[^\p{L}\p{N}]+/gu, "-").replace(/^-|-$/g, "") || "group"}-contacts-${new Date().toISOString().slice(0, 10)}.csv`;
    const url = URL.createObjectURL(new Blob([csv], { type: "text/csv;charset=utf-8" }));
    const a = h("a", { href: url, download: file }) as HTMLAnchorElement;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    note.textContent = t("csvSaved", { n: count, file });
  } catch (err) {
    note.textContent = (err as Error).message;
  }
}

/** A screen's top: back to the group, and its heading. */
function top(groupId: string, title: string): Child[] {
  return [h("p", {}, h("a", { href: `#/g/${groupId}` }, t("back"))), h("h1", {}, title)];
}

/** A labelled `<select>` of `options` ([value, label]). */
function choose(id: string, label: string, options: [string, string][]): [HTMLElement, HTMLSelectElement] {
  const select = h("select", { id, name: id, required: true }, ...options.map(([value, text]) => h("option", { value }, text))) as HTMLSelectElement;
  return [h("label", { for: id }, label), select];
}

const POSITIONS = ["already-in-place", "will-support", "supports-with-changes", "will-consider", "opposes", "no-answer"];
const EXISTING = ["unknown", "in-place", "in-practice", "partial", "none"];

async function scorecardScreen(groupId: string) {
  const [rows, rules, targets] = await Promise.all([
    ask<ScorecardRow[]>({ op: "scorecard", group: groupId }),
    ask<Rule[]>({ op: "rules" }),
    ask<Target[]>({ op: "targets", group: groupId }),
  ]);
  const ruleText = (r: Rule) => (lang === "es" ? (rulesEs[r.code] ?? r) : r);
  const done = h("p", { role: "status", class: "saved" });
  const [targetLabel, target] = choose("target", t("official"), targets.map((x) => [x.target_id, `${x.name}, ${x.title}`]));
  const [ruleLabel, rule] = choose("rule", t("rule"), rules.map((r) => [r.code, `${r.code} · ${ruleText(r).title}`]));
  const [positionLabel, position] = choose("position", t("position"), POSITIONS.map((p) => [p, t(`position.${p}` as Key)]));
  const [existingLabel, existing] = choose("existing", t("existingPolicy"), EXISTING.map((e) => [e, t(`existing.${e}` as Key)]));
  const conditions = h("input", { id: "conditions", name: "conditions", autocomplete: "off" }) as HTMLInputElement;
  show(
    ...top(groupId, t("scorecardTitle")),
    h("p", {}, t("scorecardIntro")),
    targets.length === 0 ? h("p", {}, t("noTargets")) : null,
    ...targets.map((x) =>
      h(
        "section",
        { class: "official", "aria-labelledby": `t-${x.target_id}` },
        h("h2", { id: `t-${x.target_id}` }, x.name, h("span", { class: "muted" }, ` · ${x.title}`)),
        h(
          "ol",
          { class: "rules" },
          ...rules.map((r) => {
            const row = rows.find((c) => c.target_id === x.target_id && c.rule === r.code);
            const said = row?.position ?? null;
            return h(
              "li",
              { "data-rule": r.code },
              h("strong", {}, `${r.code} · ${ruleText(r).title}`),
              h("br"),
              h("span", { class: "muted" }, ruleText(r).summary),
              h("br"),
              h("span", { class: `answer ${said ?? "none"}` }, said ? t(`position.${said}` as Key) : t("noAnswer")),
              row?.conditions ? h("span", {}, ` · ${t("conditions", { text: row.conditions })}`) : null,
            );
          }),
        ),
      ),
    ),
    targets.length > 0
      ? h(
          "form",
          {
            class: "card",
            onsubmit: async (e: Event) => {
              e.preventDefault();
              try {
                await ask({
                  op: "recordResponse",
                  group: groupId,
                  target: target.value,
                  rule: rule.value,
                  position: position.value,
                  existing: existing.value,
                  conditions: conditions.value,
                });
                await scorecardScreen(groupId);
                say(t("savedHere"));
              } catch (err) {
                done.textContent = (err as Error).message;
              }
            },
          },
          h("h2", {}, t("recordAnswer")),
          targetLabel,
          target,
          ruleLabel,
          rule,
          positionLabel,
          position,
          existingLabel,
          existing,
          h("label", { for: "conditions" }, t("conditionsField")),
          conditions,
          h("button", { type: "submit" }, t("record")),
          done,
        )
      : null,
  );
}

async function actionsScreen(groupId: string) {
  const actions = await ask<Action[]>({ op: "actions", group: groupId });
  const title = h("input", { id: "action-title", name: "title", required: true, autocomplete: "off" }) as HTMLInputElement;
  const assignee = h("input", { id: "assignee", name: "assignee", autocomplete: "off" }) as HTMLInputElement;
  const due = h("input", { id: "due", name: "due", type: "date" }) as HTMLInputElement;
  const done = h("p", { role: "status", class: "saved" });
  const redraw = async (what: () => Promise<unknown>) => {
    try {
      await what();
      await actionsScreen(groupId);
      say(t("savedHere"));
    } catch (err) {
      done.textContent = (err as Error).message;
    }
  };
  show(
    ...top(groupId, t("actions")),
    actions.length === 0
      ? h("p", {}, t("noActions"))
      : h(
          "ul",
          { class: "actions" },
          ...actions.map((a) =>
            h(
              "li",
              { "data-action": a.action_id },
              h(
                "label",
                { class: "choice" },
                h("input", {
                  type: "checkbox",
                  name: "done",
                  value: a.action_id,
                  checked: a.done,
                  onchange: (e: Event) => void redraw(() => ask({ op: "setActionDone", action: a.action_id, done: (e.target as HTMLInputElement).checked })),
                }),
                a.done ? h("s", {}, a.title) : a.title,
              ),
              a.assignee || a.due ? h("span", { class: "muted" }, [a.assignee, a.due ? t("dueOn", { date: a.due }) : ""].filter(Boolean).join(" · ")) : null,
            ),
          ),
        ),
    h(
      "form",
      {
        class: "card",
        onsubmit: (e: Event) => {
          e.preventDefault();
          void redraw(() => ask({ op: "addAction", group: groupId, title: title.value, assignee: assignee.value, due: due.value }));
        },
      },
      h("h2", {}, t("newAction")),
      h("label", { for: "action-title" }, t("actionTitle")),
      title,
      h("label", { for: "assignee" }, t("assignee")),
      assignee,
      h("label", { for: "due" }, t("due")),
      due,
      h("button", { type: "submit" }, t("add")),
    ),
    done,
  );
}

function day(ms: number): string {
  return new Date(ms).toLocaleDateString(lang, { year: "numeric", month: "short", day: "numeric" });
}

async function membersScreen(groupId: string) {
  const [groups, members] = await Promise.all([ask<Group[]>({ op: "groups" }), ask<Member[]>({ op: "members", group: groupId })]);
  const lead = groups.find((g) => g.group_id === groupId)?.role === "lead";
  const note = h("p", { role: "status", class: "saved" });
  const current = members.filter((m) => m.removed_at === null);
  const removed = members.filter((m) => m.removed_at !== null);
  const row = (m: Member) => {
    const who = m.name || m.device_id.slice(0, 8);
    const item = h(
      "li",
      { "data-device": m.device_id },
      h("strong", {}, who),
      ` · ${t(`role.${m.role}` as Key)}`,
      m.this_device ? ` · ${t("thisDevice")}` : "",
      h("br"),
      h("span", { class: "muted" }, m.removed_at !== null ? t("wasRemoved") : t("joinedOn", { date: day(m.joined_at) })),
    );
    if (lead && !m.this_device && m.removed_at === null) {
      // Two steps, in the page: the first only shows what removing does.
      const confirm = h("div", { hidden: true }, h("p", {}, t("removeWarning")));
      confirm.append(
        h(
          "button",
          {
            type: "button",
            class: "danger",
            onclick: async () => {
              note.textContent = t("removing");
              try {
                await ask({ op: "removeMember", group: groupId, device: m.device_id });
                await membersScreen(groupId);
                say(t("memberRemoved", { name: who }));
              } catch (err) {
                note.textContent = (err as Error).message;
              }
            },
          },
          t("confirmRemove", { name: who }),
        ),
      );
      item.append(
        h(
          "button",
          {
            type: "button",
            class: "secondary",
            "aria-expanded": "false",
            onclick: (e: Event) => {
              confirm.hidden = !confirm.hidden;
              (e.target as HTMLElement).setAttribute("aria-expanded", String(!confirm.hidden));
            },
          },
          t("remove"),
        ),
        confirm,
      );
    }
    return item;
  };
  show(
    ...top(groupId, t("members")),
    h("ul", { class: "members" }, ...current.map(row)),
    removed.length > 0 ? h("ul", { class: "members removed" }, ...removed.map(row)) : null,
    note,
  );
}

/** A QR code as SVG: one path of its dark modules, a quiet zone of four around. */
function qrSvg(qr: { width: number; dark: string }, label: string): SVGSVGElement {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  const size = qr.width + 8;
  svg.setAttribute("viewBox", `-4 -4 ${size} ${size}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", label);
  svg.setAttribute("class", "qr");
  const back = document.createElementNS(ns, "rect");
  for (const [k, v] of Object.entries({ x: "-4", y: "-4", width: String(size), height: String(size), fill: "#fff" })) back.setAttribute(k, v);
  let d = "";
  for (let i = 0; i < qr.dark.length; i++) if (qr.dark[i] === "1") d += `M${i % qr.width} ${Math.floor(i / qr.width)}h1v1h-1z`;
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", d);
  path.setAttribute("fill", "#000");
  svg.append(back, path);
  return svg;
}

async function inviteScreen(groupId: string) {
  const roles = ["canvasser", "member", "lead"];
  const role = h(
    "fieldset",
    {},
    h("legend", {}, t("inviteRole")),
    ...roles.map((r) =>
      h("label", { class: "choice" }, h("input", { type: "radio", name: "role", value: r, checked: r === "canvasser", required: true }), t(`roleHelp.${r}` as Key)),
    ),
  );
  const uses = h("input", { id: "uses", name: "uses", type: "number", min: "1", max: "1000", value: "10", required: true }) as HTMLInputElement;
  const days = h("input", { id: "days", name: "days", type: "number", min: "1", max: "90", value: "7", required: true }) as HTMLInputElement;
  const made = h("section", { "aria-live": "polite" });
  const form = h(
    "form",
    { class: "card" },
    role,
    h("label", { for: "uses" }, t("inviteUses")),
    uses,
    h("label", { for: "days" }, t("inviteDays")),
    days,
    h("button", { type: "submit" }, t("makeInvite")),
  ) as HTMLFormElement;
  form.onsubmit = async (e) => {
    e.preventDefault();
    try {
      const chosen = String(new FormData(form).get("role"));
      const invite = await ask<MadeInvite>({ op: "createInvite", group: groupId, role: chosen, uses: Number(uses.value), days: Number(days.value) });
      const copied = h("p", { role: "status" });
      const linkField = h("input", { id: "invite-link", readonly: true, value: invite.link }) as HTMLInputElement;
      made.replaceChildren(
        h("h2", {}, t("inviteReady")),
        qrSvg(invite.qr, t("qrLabel")),
        h("p", {}, t("inviteFor", { uses: invite.uses, role: t(`role.${invite.role}` as Key), date: day(invite.expires_at) })),
        h("label", { for: "invite-link" }, t("inviteLink")),
        linkField,
        "share" in navigator
          ? h("button", { type: "button", onclick: () => void navigator.share({ url: invite.link }).catch(() => undefined) }, t("share"))
          : "",
        h(
          "button",
          {
            type: "button",
            class: "secondary",
            onclick: async () => {
              await navigator.clipboard.writeText(invite.link);
              copied.textContent = t("copied");
            },
          },
          t("copy"),
        ),
        copied,
      );
    } catch (err) {
      made.replaceChildren(h("p", { role: "alert" }, (err as Error).message));
    }
  };
  show(...top(groupId, t("invite")), form, made);
}

async function boardScreen(groupId: string) {
  const [boards, rules] = await Promise.all([ask<Board[]>({ op: "boards" }), ask<Rule[]>({ op: "rules" })]);
  const title = (code: string) => {
    const r = rules.find((x) => x.code === code);
    return r ? (lang === "es" ? (rulesEs[code] ?? r) : r).title : code;
  };
  // This group's boards: the counties where it asks an official.
  const ours = boards.filter((b) => Object.values(b.officials).some((o) => groupId in o.groups));
  show(
    ...top(groupId, t("board")),
    h("p", {}, t("boardIntro")),
    ours.length === 0 ? h("p", {}, t("noBoard")) : null,
    ...ours.map((b) =>
      h(
        "section",
        { class: "board", "aria-labelledby": `b-${b.board_of}` },
        h("h2", { id: `b-${b.board_of}` }, b.county_name),
        ...Object.entries(b.officials).map(([key, o]) =>
          h(
            "article",
            { class: "card", "data-official": key },
            h("h3", {}, o.name, h("span", { class: "muted" }, ` · ${o.title}`)),
            h("p", {}, t("askedBy", { names: Object.values(o.groups).sort().join(", ") })),
            Object.keys(o.meetings).length > 0
              ? h(
                  "ul",
                  { class: "meetings" },
                  ...Object.values(o.meetings).map((m) =>
                    h(
                      "li",
                      {},
                      h("strong", {}, Object.values(m.attending).sort().join(" + ") || m.group_name),
                      ` · ${t(`meetingStatus.${m.status}` as Key)}`,
                      h("br"),
                      when(m),
                      m.place ? ` · ${m.place}` : "",
                    ),
                  ),
                )
              : null,
            Object.keys(o.answers).length > 0
              ? h(
                  "ul",
                  { class: "answers" },
                  ...Object.values(o.answers).map((a) =>
                    h(
                      "li",
                      { "data-rule": a.rule },
                      h("strong", {}, `${a.rule} · ${title(a.rule)}`),
                      h("br"),
                      t("answeredBy", { position: t(`position.${a.position}` as Key), group: a.group_name }),
                    ),
                  ),
                )
              : null,
          ),
        ),
      ),
    ),
  );
}

/** What is typed or chosen on the screen, to put back when the same screen is redrawn. */
function typing(): () => void {
  const fields = [...main.querySelectorAll<HTMLInputElement | HTMLTextAreaElement>("input, textarea, select")];
  const key = (el: HTMLInputElement | HTMLTextAreaElement) =>
    el instanceof HTMLInputElement && (el.type === "radio" || el.type === "checkbox") ? `${el.name}=${el.value}` : el.id || el.name;
  const kept = new Map(fields.map((el) => [key(el), el instanceof HTMLInputElement && (el.type === "radio" || el.type === "checkbox") ? el.checked : el.value]));
  const focused = document.activeElement instanceof HTMLElement && main.contains(document.activeElement) ? document.activeElement.id : "";
  return () => {
    for (const el of main.querySelectorAll<HTMLInputElement | HTMLTextAreaElement>("input, textarea, select")) {
      const was = kept.get(key(el));
      if (was === undefined) continue;
      if (typeof was === "boolean") {
        if (el instanceof HTMLInputElement && el.checked !== was) {
          el.checked = was;
          el.dispatchEvent(new Event("change"));
        }
      } else el.value = was;
    }
    if (focused) document.getElementById(focused)?.focus();
  };
}

/** The draw under way (or a settled promise); draws run one after another. */
let drawing: Promise<void> = Promise.resolve();
/** The draw asked for while one runs, with its `keep`; later asks fold into it. */
let queued: boolean | null = null;

/**
 * Draws the screen the address names; `keep`: the same screen again, keeping what is typed.
 *
 * Draws run one at a time, and the asks made during one fold into a single next draw. Without
 * this a slow redraw of a screen just left (the join screen, redrawn because sync reported)
 * could finish after the draw of the screen the person moved to, and cover it.
 */
function route(keep = false): Promise<void> {
  if (queued !== null) {
    queued = queued && keep;
    return drawing;
  }
  queued = keep;
  const next = () => {
    const k = queued ?? keep;
    queued = null;
    return draw(k);
  };
  // A draw that failed does not stop the next one.
  drawing = drawing.then(next, next);
  return drawing;
}

async function draw(keep: boolean) {
  const [, screen, id, sub, subId] = location.hash.split("/");
  if (!keep) notice = null;
  // The invite screen shows nothing sync changes, and a redraw would lose the invite made.
  if (keep && sub === "invite") return;
  const restore = keep ? typing() : null;
  try {
    // An invite link (`/join#CODE`, which the relay sends on to the app) leaves its code here.
    if (location.hash.length > 1 && !location.hash.startsWith("#/")) await joinScreen(location.hash.slice(1));
    else if (screen === "removed") drawRemoved();
    else if (screen === "g" && id && sub === "m" && subId) await meetingScreen(id, subId);
    else if (screen === "g" && id && sub === "score") await scorecardScreen(id);
    else if (screen === "g" && id && sub === "actions") await actionsScreen(id);
    else if (screen === "g" && id && sub === "members") await membersScreen(id);
    else if (screen === "g" && id && sub === "board") await boardScreen(id);
    else if (screen === "g" && id && sub === "invite") await inviteScreen(id);
    else if (screen === "g" && id) await group(id);
    else await home();
    restore?.();
  } catch (err) {
    show(h("h1", {}, t("appName")), h("p", { role: "alert" }, (err as Error).message));
  }
}

function onHashChange() {
  void route();
}

async function start() {
  drawChrome();
  if (!window.isSecureContext) {
    show(h("h1", {}, t("appName")), h("p", { role: "alert" }, t("needsHttps")));
    return;
  }
  show(h("p", { role: "status" }, t("loading")));
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register(new URL("sw.js", import.meta.url), { scope: "./" }).catch((e) => console.warn("no offline copy of the app", e));
  }
  try {
    await ask({ op: "boot", name: "Browser" });
  } catch (err) {
    show(h("h1", {}, t("appName")), h("p", { role: "alert" }, (err as Error).message));
    return;
  }
  drawStatus();
  // The network is back: try at once rather than at the end of the current wait.
  window.addEventListener("online", () => void ask({ op: "syncNow" }));
  window.addEventListener("hashchange", onHashChange);
  await route();
}

void start();
