// Every word the app shows, one catalogue per language. Add a language by adding a catalogue
// with the same keys (TypeScript checks none is missing); the browser's language picks one,
// and the page can switch.

const en = {
  appName: "Groundwork",
  loading: "Opening your data…",
  needsHttps: "This app needs a secure connection (https). Ask your organiser for the https link.",
  noGroups: "You are not in a group yet. Open the invite link your organiser sent, or start a group.",
  startGroup: "Start a group",
  groupName: "Group name",
  create: "Create",
  yourGroups: "Your groups",
  logDoor: "Log a door",
  result: "What happened?",
  "result.talked": "Talked",
  "result.not-home": "Not home",
  "result.refused": "Refused",
  "result.moved": "Moved",
  "result.inaccessible": "Couldn't reach",
  "result.language-barrier": "Language barrier",
  "result.wrong-address": "Wrong address",
  "result.other": "Other",
  support: "Support (1 = against, 5 = strongly for)",
  interests: "Wants to",
  "interest.attend": "Come to a meeting",
  "interest.host": "Host a meeting",
  "interest.volunteer": "Volunteer",
  followUp: "Follow up",
  place: "Street or turf",
  note: "Note",
  consent: "They agreed to give their details",
  name: "Name",
  phone: "Phone",
  email: "Email",
  save: "Save",
  saved: "Saved on this phone",
  yourContacts: "Contacts on this phone",
  noContacts: "No contacts yet.",
  back: "Back",
  language: "Español",
  "status.offline": "Offline",
  "status.connecting": "Connecting…",
  "status.connected": "Online",
  "status.waiting": "Offline, trying again soon",
  allSent: "Everything is sent",
  notSent: "{n} contacts not sent yet",
  notSentOne: "1 contact not sent yet",
  lastReached: "last reached the relay {time}",
  never: "never reached the relay",
  syncNow: "Try now",
};

type Catalogue = typeof en;

const es: Catalogue = {
  appName: "Groundwork",
  loading: "Abriendo tus datos…",
  needsHttps: "Esta aplicación necesita una conexión segura (https). Pide a tu organizador el enlace https.",
  noGroups: "Todavía no estás en un grupo. Abre el enlace de invitación que te envió tu organizador, o crea un grupo.",
  startGroup: "Crear un grupo",
  groupName: "Nombre del grupo",
  create: "Crear",
  yourGroups: "Tus grupos",
  logDoor: "Registrar una puerta",
  result: "¿Qué pasó?",
  "result.talked": "Hablamos",
  "result.not-home": "No estaba",
  "result.refused": "No quiso hablar",
  "result.moved": "Se mudó",
  "result.inaccessible": "No se pudo llegar",
  "result.language-barrier": "Barrera de idioma",
  "result.wrong-address": "Dirección equivocada",
  "result.other": "Otro",
  support: "Apoyo (1 = en contra, 5 = muy a favor)",
  interests: "Quiere",
  "interest.attend": "Venir a una reunión",
  "interest.host": "Organizar una reunión",
  "interest.volunteer": "Ser voluntario",
  followUp: "Hacer seguimiento",
  place: "Calle o zona",
  note: "Nota",
  consent: "Aceptó dar sus datos",
  name: "Nombre",
  phone: "Teléfono",
  email: "Correo",
  save: "Guardar",
  saved: "Guardado en este teléfono",
  yourContacts: "Contactos en este teléfono",
  noContacts: "Todavía no hay contactos.",
  back: "Volver",
  language: "English",
  "status.offline": "Sin conexión",
  "status.connecting": "Conectando…",
  "status.connected": "En línea",
  "status.waiting": "Sin conexión, se intentará pronto",
  allSent: "Todo está enviado",
  notSent: "{n} contactos sin enviar todavía",
  notSentOne: "1 contacto sin enviar todavía",
  lastReached: "último contacto con el relay {time}",
  never: "nunca se conectó con el relay",
  syncNow: "Intentar ahora",
};

export const catalogues = { en, es } as const;
export type Language = keyof typeof catalogues;
export type Key = keyof Catalogue;

export function pickLanguage(saved: string | null, browser: readonly string[]): Language {
  if (saved === "en" || saved === "es") return saved;
  for (const tag of browser) {
    const base = tag.toLowerCase().split("-")[0];
    if (base === "es" || base === "en") return base;
  }
  return "en";
}

export function translate(lang: Language, key: Key, values: Record<string, string | number> = {}): string {
  return catalogues[lang][key].replace(/\{(\w+)\}/g, (_, name: string) => String(values[name] ?? ""));
}
