// Readable names for the API's codes, one place for all views.
export const PURPOSES = {
  investigation: 'Investigation',
  prosecution: 'Prosecution',
  victim_protection: 'Victim protection',
  intelligence: 'Intelligence',
  border_screening: 'Border screening',
};
export const PRIORITIES = { routine: 'Routine', urgent: 'Urgent', immediate: 'Immediate (life at risk)' };
export const LEGAL_BASES = {
  mla_treaty: 'Mutual legal assistance treaty',
  bilateral_mou: 'Bilateral memorandum of understanding',
  interpol_channel: 'INTERPOL channel',
  domestic_law: 'Domestic law',
  consent: 'Consent of the person',
  informal: 'Informal police cooperation',
};
export const ROLES = {
  analyst: 'Analyst',
  legal_officer: 'Legal officer',
  auditor: 'Auditor',
  admin: 'Administrator',
  focal_point: 'Focal point',
  focal_point_admin: 'Focal point directory admin',
};
export const OUTCOMES = {
  shared: 'Shared',
  hit_only: 'Match confirmed, details on request',
  denied: 'Denied',
  timeout: 'No answer in time',
  error: 'Error',
  unavailable: 'Unavailable',
  withheld: 'Not sent (your state’s rule)',
  cancelled: 'Cancelled',
  pending: 'Waiting',
};
export const SHORT_OUTCOMES = {
  shared: 'Shared', hit_only: 'Hit only', denied: 'Denied', timeout: 'Timeout', error: 'Error',
  unavailable: 'Unavailable', withheld: 'Withheld', cancelled: 'Cancelled',
};
export const EFFECTS = { allow: 'Allow', hit_only: 'Hit only', deny: 'Deny', withheld: 'Withheld' };
export const EVIDENCE = { document: 'Same document', phone: 'Same phone', imo: 'Same vessel (IMO)', name: 'Similar name', dob: 'Same date of birth',
  document_fingerprint: 'Same document fingerprint', phone_fingerprint: 'Same phone fingerprint' };
export const EVENTS = {
  search: 'Search', evaluate: 'Policy evaluation', reload: 'Policy reload', auth_failure: 'Failed sign-in',
  admin: 'Administration', recovery: 'Recovery', checkpoint: 'Checkpoint', request: 'Follow-up request',
  focal_point: 'Focal point change', policy_diff: 'Policy replay', policy_prove: 'Policy proof',
};
// A proof's verdict (POST /v1/policy/diff, exhaustive): the word, and what it means.
export const VERDICTS = {
  widens: ['Widens', 'the draft shares more than the policy in force'],
  narrows: ['Narrows', 'the draft shares less than the policy in force, and nothing more'],
  both: ['Widens and narrows', 'the draft shares more in some cases and less in others'],
  equivalent: ['Equivalent', 'the draft decides every possible request as the policy in force does'],
};
export const REQUEST_STATUS = { open: 'Open', released: 'Released', declined: 'Declined', withdrawn: 'Withdrawn', expired: 'Expired' };
export const FIELDS = {
  name: 'Name', aliases: 'Aliases', dob: 'Date of birth', sex: 'Sex', nationality: 'Nationality',
  documents: 'Documents', phones: 'Phones', address: 'Address', vessel: 'Vessel', cases: 'Cases',
  notes: 'Notes', updated: 'Updated', tags: 'Tags',
};

export const word = (table, code) => (code in table ? table[code] : String(code).replace(/_/g, ' '));
export const options = (table) => Object.entries(table);

export function when(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return isNaN(d) ? String(iso) : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}
