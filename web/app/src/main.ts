// The page: screens drawn from the worker's answers. It holds no data of its own; the worker
// (and the store behind it) is the one place a contact lives. Screens: home (groups, start a
// group), a group (its leads and meetings, log a door, the contacts on this phone), a meeting
// (its agenda and notes, which members and leads add to). The status line says what is not
// sent yet and when the relay was last reached. A screen is redrawn when sync brings changes,
// keeping what is being typed.

import { type Key, type Language, pickLanguage, translate } from "./i18n";
import type { Ask, Contact, Group, InviteInfo, Joined, Meeting, MeetingDetail, NewContact, Reply, Status } from "./protocol";

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
    window.removeEventListener("hashchange", onHashChange);
    gone = false;
    show(
      h("h1", {}, t("removedTitle")),
      h("p", { role: "alert" }, t("removedText")),
      data.erased ? h("p", {}, t("erasedText")) : h("p", {}, h("a", { href: "#/" }, t("back"))),
    );
    // With everything erased, no later answer redraws over this, and there is no sync to tell.
    gone = data.erased;
    if (gone) statusLine.replaceChildren();
    if (!data.erased) window.addEventListener("hashchange", onHashChange);
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

function show(...children: Child[]) {
  if (gone) return;
  main.replaceChildren(...children.filter((c): c is Node | string => !!c));
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
    drawStatus();
    void route(true);
  };
}

// --- screens ---

async function home() {
  const groups = await ask<Group[]>({ op: "groups" });
  const nameInput = h("input", { id: "group-name", name: "name", required: true, autocomplete: "off" }) as HTMLInputElement;
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
          const id = await ask<string>({ op: "createGroup", name: nameInput.value });
          location.hash = `#/g/${id}`;
        },
      },
      h("h2", {}, t("startGroup")),
      h("label", { for: "group-name" }, t("groupName")),
      nameInput,
      h("button", { type: "submit" }, t("create")),
    ),
  );
}

function describe(c: Contact): string {
  const bits = [t(`result.${c.result}` as Key)];
  if (c.support !== null) bits.push(`${c.support}/5`);
  if (c.place) bits.push(c.place);
  if (c.name) bits.push(c.name);
  return bits.join(" · ");
}

/** A meeting's time in its own zone (the browser's time zone database), with the zone's name. */
function when(m: Meeting): string {
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
    ask<Contact[]>({ op: "contacts", group: groupId }),
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
      const saved = main.querySelector(".saved");
      if (saved) saved.textContent = t("saved");
    } catch (err) {
      note.textContent = (err as Error).message;
    }
  };
  show(
    h("p", {}, h("a", { href: "#/" }, t("back"))),
    h("h1", {}, info?.name || t("groupArriving")),
    leads.length > 0 ? h("p", { class: "leads" }, t("leads", { names: leads.join(", ") })) : null,
    meetings.length > 0
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
        )
      : null,
    form,
    h("h2", {}, t("yourContacts")),
    contacts.length === 0
      ? h("p", {}, t("noContacts"))
      : h("ul", { class: "contacts", "aria-label": t("yourContacts") }, ...contacts.map((c) => h("li", { "data-contact": c.contact_id }, describe(c)))),
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
      const saved = main.querySelector(".saved");
      if (saved) saved.textContent = t("savedHere");
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

/** What is typed or chosen on the screen, to put back when the same screen is redrawn. */
function typing(): () => void {
  const fields = [...main.querySelectorAll<HTMLInputElement | HTMLTextAreaElement>("input, textarea")];
  const key = (el: HTMLInputElement | HTMLTextAreaElement) =>
    el instanceof HTMLInputElement && (el.type === "radio" || el.type === "checkbox") ? `${el.name}=${el.value}` : el.id || el.name;
  const kept = new Map(fields.map((el) => [key(el), el instanceof HTMLInputElement && (el.type === "radio" || el.type === "checkbox") ? el.checked : el.value]));
  const focused = document.activeElement instanceof HTMLElement && main.contains(document.activeElement) ? document.activeElement.id : "";
  return () => {
    for (const el of main.querySelectorAll<HTMLInputElement | HTMLTextAreaElement>("input, textarea")) {
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

/** Draws the screen the address names; `keep`: the same screen again, keeping what is typed. */
async function route(keep = false) {
  const [, screen, id, sub, subId] = location.hash.split("/");
  const restore = keep ? typing() : null;
  try {
    // An invite link (`/join#CODE`, which the relay sends on to the app) leaves its code here.
    if (location.hash.length > 1 && !location.hash.startsWith("#/")) await joinScreen(location.hash.slice(1));
    else if (screen === "g" && id && sub === "m" && subId) await meetingScreen(id, subId);
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
