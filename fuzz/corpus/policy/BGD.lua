-- Bangladesh: what Bangladesh Police (CID) shares, and on what terms.

state "BGD" {
  name = "Bangladesh",
  contact = { unit = "Anti-Human Trafficking Unit, Criminal Investigation Department, Bangladesh Police",
              email = "ahtu.cid@example.bd",
              channel = "Formal request through the Ministry of Home Affairs" },
}

deny "no informal channel for routine queries" {
  legal_basis = "informal",
  priority = { "routine", "urgent" },
  reason = "Bangladesh answers informal requests only when a life is at immediate risk.",
}

allow "protecting victims is always possible" {
  purpose = "victim_protection",
}

allow "prosecution under a treaty" {
  purpose = "prosecution",
  legal_basis = "mla_treaty",
}

hit_only "MOU partners: confirm a match only" {
  legal_basis = "bilateral_mou",
  reason = "Bangladesh confirms a match; send a formal request through the Ministry of Home Affairs.",
}

allow "immediate risk to life, reviewed afterwards" {
  priority = "immediate",
  review = true,
}

-- Records

redact "addresses of Bangladeshi nationals are not shared" {
  records = { nationality = { "BGD" } },
  fields = { "address" },
  action = "remove",
  unless = { purpose = "victim_protection" },
}

limit "at most 5 records outside prosecution" {
  unless = { purpose = "prosecution" },
  max_records = 5,
}
