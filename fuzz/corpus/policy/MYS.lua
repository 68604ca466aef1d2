-- Malaysia: what the Royal Malaysia Police shares, and on what terms.

state "MYS" {
  name = "Malaysia",
  contact = { unit = "Focal point, ATIPSOM Unit (Anti-Trafficking in Persons and Anti-Smuggling of Migrants), Royal Malaysia Police",
              email = "focal.point@example.my",
              channel = "Formal request through the Attorney General's Chambers (central authority)" },
}

-- Admission: read top to bottom; the FIRST rule that matches decides.

deny "no informal channel unless a life is at risk" {
  legal_basis = "informal",
  priority = { "routine", "urgent" },
  reason = "Informal requests are accepted only for immediate risk to life.",
}

allow "prosecution under a treaty or MOU" {
  purpose = "prosecution",
  legal_basis = { "mla_treaty", "bilateral_mou" },
}

allow "protecting victims, on any formal basis" {
  purpose = "victim_protection",
  legal_basis = { "mla_treaty", "bilateral_mou", "interpol_channel", "domestic_law", "consent" },
}

hit_only "other ASEAN requests: confirm a match only" {
  from = { "IDN", "THA" },
  unless = { priority = "immediate" },
  reason = "Malaysia confirms a match; request details through the central authority.",
}

allow "immediate risk to life, any basis, reviewed afterwards" {
  priority = "immediate",
  review = true,
  reason = "Shared because a life is at immediate risk; the ATIPSOM Unit reviews every such request.",
}

-- Record rules: all that match apply, to every record of an allowed answer.

drop "witness records stay with the prosecutor" {
  records = { tags = { "witness" } },
  unless = { purpose = "prosecution" },
}

redact "dates of birth show the year only outside prosecution" {
  fields = { "dob" },
  action = "year",
  unless = { purpose = "prosecution" },
}

limit "routine queries get at most 20 records" {
  priority = "routine",
  max_records = 20,
}
