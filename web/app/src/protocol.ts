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
  | { op: "createGroup"; name: string }
  | { op: "logContact"; group: string; contact: NewContact }
  | { op: "contacts"; group: string }
  | { op: "meetings"; group: string }
  | { op: "meeting"; meeting: string }
  | { op: "addAgendaItem"; meeting: string; text: string }
  | { op: "appendNotes"; meeting: string; text: string }
  | { op: "leads"; group: string }
  | { op: "invite"; link: string }
  | { op: "join"; link: string; name: string }
  | { op: "status" }
  | { op: "syncNow" };

export type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };
