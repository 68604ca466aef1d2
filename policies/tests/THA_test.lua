-- What Thailand shares, case by case.

case "routine prosecution requests get a hit only" {
  request = { purpose = "prosecution", priority = "routine", legal_basis = "mla_treaty",
              case_ref = "MY-2026-0042", from = "MYS", subject = { name = "X" } },
  expect = { THA = { effect = "hit_only", rule = "hit only for routine prosecution requests" } },
}

case "urgent prosecution under a treaty is shared in full" {
  request = { purpose = "prosecution", priority = "urgent", legal_basis = "mla_treaty",
              case_ref = "MY-2026-0042", from = "MYS", subject = { name = "Somchai" } },
  records = { THA = { { id = "THA-P-1", type = "person", tags = { "suspect" }, name = "Somchai Prasert",
                        cases = { { ref = "TH-2025-88", offence = "people_smuggling", status = "open" } } } } },
  expect = { THA = "allow" },
  expect_records = { THA = { { id = "THA-P-1", name = "Somchai Prasert",
    cases = { { ref = "TH-2025-88", offence = "people_smuggling", status = "open" } } } } },
}

case "requests without a case reference are refused" {
  request = { purpose = "prosecution", priority = "urgent", legal_basis = "mla_treaty",
              from = "MYS", subject = { name = "X" } },
  expect = { THA = { effect = "deny", rule = "requests must cite a case" } },
}

case "victim protection through INTERPOL: suspects' names show initials, cases stay home" {
  request = { purpose = "victim_protection", priority = "urgent", legal_basis = "interpol_channel",
              case_ref = "ID-2026-0007", from = "IDN", subject = { name = "X" } },
  records = { THA = { { id = "THA-P-2", type = "person", tags = { "facilitator" },
                        name = "Ahmad bin Ismail", aliases = { "Mat Sinar" },
                        cases = { { ref = "TH-2025-90" } } } } },
  expect = { THA = "allow" },
  expect_records = { THA = { { id = "THA-P-2", name = "A. B. I.", aliases = { "M. S." }, cases = REMOVED } } },
}

case "border screening by document gets a hit only" {
  request = { purpose = "border_screening", priority = "urgent", legal_basis = "domestic_law",
              case_ref = "BGD-BS-1", from = "BGD", subject = { document = "BD1234567", name = "X" } },
  expect = { THA = "hit_only" },
}

case "border screening by name alone is denied by default" {
  request = { purpose = "border_screening", priority = "urgent", legal_basis = "domestic_law",
              case_ref = "BGD-BS-1", from = "BGD", subject = { name = "X" } },
  expect = { THA = { effect = "deny", rule = "default_deny" } },
}

case "a life at immediate risk overrides the case reference rule" {
  request = { purpose = "investigation", priority = "immediate", legal_basis = "informal",
              from = "IDN", subject = { vessel = "KM Harapan" } },
  expect = { THA = { effect = "allow", review = true } },
}

case "a formal routine prosecution request under a treaty gets the records" {
  request = { purpose = "prosecution", priority = "routine", legal_basis = "mla_treaty", formal = true,
              case_ref = "MY-2026-0042", from = "MYS", subject = { name = "X" } },
  expect = { THA = { effect = "allow", rule = "formal routine prosecution requests under a treaty or MOU" } },
}

case "the same request as a search only confirms a match" {
  request = { purpose = "prosecution", priority = "routine", legal_basis = "mla_treaty",
              case_ref = "MY-2026-0042", from = "MYS", subject = { name = "X" } },
  expect = { THA = { effect = "hit_only", rule = "hit only for routine prosecution requests" } },
}
