-- Indonesia: what the Indonesian National Police (POLRI) shares, and on what terms.

state "IDN" {
  name = "Indonesia",
  contact = { unit = "Anti-People-Smuggling Task Force, Directorate of General Crimes, Bareskrim POLRI",
              email = "satgas.tppo@example.id",
              channel = "NCB-INTERPOL Jakarta, or a formal MLA request through the Ministry of Law" },
}

deny "no informal requests except to save a life" {
  legal_basis = "informal",
  unless = { priority = "immediate" },
  reason = "Indonesia answers informal requests only when a life is at immediate risk.",
}

allow "prosecution or investigation under a treaty or MOU" {
  purpose = { "prosecution", "investigation" },
  legal_basis = { "mla_treaty", "bilateral_mou" },
}

allow "urgent police-to-police requests through INTERPOL" {
  purpose = "investigation",
  legal_basis = "interpol_channel",
  priority = { "urgent", "immediate" },
}

allow "victim protection" {
  purpose = "victim_protection",
}

hit_only "intelligence and border screening: confirm a match only" {
  purpose = { "intelligence", "border_screening" },
  reason = "Indonesia confirms a match; ask the task force for the record through NCB-INTERPOL Jakarta.",
}

allow "immediate risk to life, reviewed afterwards" {
  priority = "immediate",
  review = true,
}

-- Records

redact "phone numbers are linkable, not readable, outside prosecution" {
  fields = { "phones" },
  action = "hash",
  unless = { purpose = "prosecution" },
}

redact "addresses are shared only for prosecution and victim protection" {
  fields = { "address" },
  action = "remove",
  unless = { purpose = { "prosecution", "victim_protection" } },
}

limit "routine queries get at most 10 records" {
  priority = "routine",
  max_records = 10,
}
