-- Thailand: what the Royal Thai Police shares, and on what terms.

state "THA" {
  name = "Thailand",
  contact = { unit = "Anti-Trafficking in Persons Division (ATPD), Royal Thai Police",
              email = "atpd.focal@example.th",
              channel = "Formal request through the Office of the Attorney General (central authority)" },
}

deny "no informal channel" {
  legal_basis = "informal",
  unless = { priority = "immediate" },
  reason = "Thailand does not answer informal requests unless a life is at immediate risk.",
}

deny "requests must cite a case" {
  case_ref = false,
  unless = { priority = "immediate" },
  reason = "Thailand answers only requests that cite a case reference.",
}

hit_only "hit only for routine prosecution requests" {
  purpose = "prosecution",
  priority = "routine",
  reason = "Thailand confirms a match; request details through the central authority.",
}

allow "prosecution under a treaty" {
  purpose = "prosecution",
  legal_basis = "mla_treaty",
}

allow "victim protection under a treaty, MOU or INTERPOL" {
  purpose = "victim_protection",
  legal_basis = { "mla_treaty", "bilateral_mou", "interpol_channel" },
}

hit_only "document checks at the border: confirm a match only" {
  purpose = "border_screening",
  subject = { "document", "vessel" },
  reason = "Thailand confirms a match; the ATPD duty officer can be reached through the contact.",
}

allow "immediate risk to life, reviewed afterwards" {
  priority = "immediate",
  review = true,
}

-- Records

redact "names of suspects keep their initials outside prosecution" {
  records = { tags = { "suspect", "facilitator" } },
  fields = { "name", "aliases" },
  action = "initials",
  unless = { purpose = "prosecution" },
}

redact "case details stay with Thailand" {
  fields = { "cases" },
  action = "remove",
  unless = { legal_basis = "mla_treaty" },
}
