// What the page and the worker say to each other. Rows are core's JSON (the CLI's `--json`).

/** How sync stands, as the worker last saw it. */
export interface Status {
  state: "offline" | "connecting" | "connected" | "waiting";
  /** Documents not yet synced both ways, once the relay has offered everything. */
  pending: number | null;
  /** Contacts logged here that the relay does not have yet. */
  unsent: number;
  /** When everything was last in step with the relay (ms since 1970). */
  lastSynced: number | null;
  /** Why the last connection failed. */
  error: string | null;
}

/** A contact as the canvasser logs it (core's `NewContact`). */
export interface NewContact {
  result: string;
  support?: number;
  place?: string;
  interests?: string[];
  follow_up?: boolean;
  note?: string;
  consent?: boolean;
  name?: string;
  phone?: string;
  email?: string;
}

/** A contact as lists show it (core's `ContactRow`). */
export interface Contact {
  contact_id: string;
  at: number;
  canvasser: string;
  place: string | null;
  result: string;
  support: number | null;
  interests: string[];
  follow_up: boolean;
  note: string | null;
  name: string | null;
  phone: string | null;
  email: string | null;
}

/** A page of contacts, newest first (core's `ContactPage`). */
export interface ContactPage {
  items: Contact[];
  /** Where the next page starts; null on the last. */
  next: string | null;
  /** How many there are on every page together. */
  total: number;
}

/** A group this device is in (core's `GroupSummary`). */
export interface Group {
  group_id: string;
  name: string;
  jurisdiction: string | null;
  role: string;
}

/** A meeting as lists show it (core's `MeetingRow`). */
export interface Meeting {
  meeting_id: string;
  kind: string;
  title: string;
  at: number | null;
  zone: string | null;
  location: string | null;
  status: string;
}

/** A meeting in full (members and leads). */
export interface MeetingDetail extends Meeting {
  agenda: { item_id: string; text: string }[];
  notes: string;
}

/** One official and one model rule, with the answer if one was recorded (core's `ScorecardRow`). */
export interface ScorecardRow {
  target_id: string;
  target_name: string;
  rule: string;
  rule_title: string;
  existing: string;
  position: string | null;
  conditions: string | null;
  legal_basis: string | null;
  recorded_at: number | null;
}

/** A county's board: the officials sharing groups ask, their meetings and answers (core's `Board`). */
export interface Board {
  board_of: string;
  county_name: string;
  officials: Record<
    string,
    {
      office: string;
      place: string | null;
      name: string;
      title: string;
      groups: Record<string, string>;
      meetings: Record<
        string,
        { group_id: string; group_name: string; status: string; at: number | null; zone: string | null; place: string | null; attending: Record<string, string> }
      >;
      answers: Record<string, { rule: string; existing: string; position: string; conditions: string | null; group_name: string; recorded_at: number }>;
    }
  >;
}

/** A model rule (core's `Rule`). */
export interface Rule {
  code: string;
  title: string;
  summary: string;
}

/** An official the group asks (core's `TargetRow`). */
export interface Target {
  target_id: string;
  name: string;
  title: string;
  agency: string | null;
  jurisdiction: string | null;
}

/** An action item (core's `ActionRow`). */
export interface Action {
  action_id: string;
  title: string;
  assignee: string | null;
  due: string | null;
  done: boolean;
}

/** A device in the group's roster. */
export interface Member {
  this_device: boolean;
  device_id: string;
  name: string;
  role: string;
  joined_at: number;
  removed_at: number | null;
}

/** An invite a lead made, with its link's QR code (`dark`: one 1 or 0 per module, row by row). */
export interface MadeInvite {
  link: string;
  role: string;
  uses: number;
  expires_at: number;
  qr: { width: number; dark: string };
}

/** What an invite grants. */
export interface InviteInfo {
  group: string;
  role: string;
  expires_at: number;
}

/** A group joined. */
export interface Joined {
  group_id: string;
  role: string;
}

export type Ask =
  | { op: "boot"; name: string }
  | { op: "groups" }
  | { op: "createGroup"; name: string; lead: string; zone: string }
  | { op: "logContact"; group: string; contact: NewContact }
  | { op: "contacts"; group: string; after?: string; limit?: number }
  | { op: "meetings"; group: string }
  | { op: "meeting"; meeting: string }
  | { op: "createMeeting"; group: string; title: string; at: string; location: string; canvassers: boolean }
  | { op: "addAgendaItem"; meeting: string; text: string }
  | { op: "appendNotes"; meeting: string; text: string }
  | { op: "targets"; group: string }
  | { op: "scorecard"; group: string }
  | { op: "rules" }
  | { op: "boards" }
  | { op: "recordResponse"; group: string; target: string; rule: string; position: string; existing: string; conditions: string }
  | { op: "actions"; group: string }
  | { op: "addAction"; group: string; title: string; assignee: string; due: string }
  | { op: "setActionDone"; action: string; done: boolean }
  | { op: "members"; group: string }
  | { op: "createInvite"; group: string; role: string; uses: number; days: number }
  | { op: "contactsCsv"; group: string }
  | { op: "removeMember"; group: string; device: string }
  | { op: "leads"; group: string }
  | { op: "invite"; link: string }
  | { op: "join"; link: string; name: string }
  | { op: "status" }
  | { op: "syncNow" };

export type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };
