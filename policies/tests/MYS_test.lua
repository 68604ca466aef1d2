-- What Malaysia shares, case by case. Run with: fedbroker policy test policies/

case "routine informal request to Malaysia is denied" {
  request = { purpose = "investigation", priority = "routine", legal_basis = "informal",
              from = "IDN", role = "analyst", subject = { name = "X" } },
  expect = { MYS = "deny" },
}

case "victim names are masked for prosecution" {
  request = { purpose = "prosecution", priority = "urgent", legal_basis = "mla_treaty",
              from = "IDN", subject = { name = "X" } },
  records = { MYS = { { id = "MYS-P-1", type = "person", tags = { "victim" }, name = "Siti" } } },
  expect = { MYS = "allow" },
  expect_records = { MYS = { { id = "MYS-P-1", name = "[REDACTED]" } } },
}

case "prosecution under a treaty shares suspects in full, without internal notes" {
  request = { purpose = "prosecution", priority = "urgent", legal_basis = "mla_treaty",
              case_ref = "ID-2026-0117", from = "IDN", subject = { name = "Ahmad bin Ismail" } },
  records = { MYS = {
    { id = "MYS-P-2", type = "person", tags = { "suspect" }, name = "Ahmad bin Ismail",
      dob = "1985-03-12", notes = "Informant says he uses the Tawau jetty." },
    { id = "MYS-P-3", type = "person", tags = { "witness" }, name = "Lim Wei" },
  } },
  expect = { MYS = { effect = "allow", rule = "prosecution under a treaty or MOU" } },
  expect_records = { MYS = {
    { id = "MYS-P-2", name = "Ahmad bin Ismail", dob = "1985-03-12", notes = REMOVED },
    { id = "MYS-P-3", name = "Lim Wei" },
  } },
}

case "Indonesian and Thai investigations get a hit only, pointing to the focal point" {
  request = { purpose = "investigation", priority = "urgent", legal_basis = "bilateral_mou",
              from = "THA", subject = { document = "A12345678" } },
  expect = { MYS = { effect = "hit_only", rule = "other ASEAN requests: confirm a match only",
                     reason = "Malaysia confirms a match; request details through the central authority." } },
}

case "immediate risk to life is shared on any basis and flagged for review" {
  request = { purpose = "investigation", priority = "immediate", legal_basis = "informal",
              from = "IDN", subject = { vessel = "KM Sinar Laut" } },
  records = { MYS = {
    { id = "MYS-P-4", type = "person", tags = { "facilitator" }, name = "Rahman", dob = "1979-11-02" },
    { id = "MYS-P-5", type = "person", tags = { "witness" }, name = "Lim Wei" },
  } },
  expect = { MYS = { effect = "allow", review = true } },
  -- witnesses stay with the prosecutor; outside prosecution only the year of birth
  expect_records = { MYS = { { id = "MYS-P-4", name = "Rahman", dob = "1979" } } },
}

case "victim protection shows who the victim is" {
  request = { purpose = "victim_protection", priority = "urgent", legal_basis = "consent",
              from = "BGD", subject = { name = "Siti Aminah" } },
  records = { MYS = { { id = "MYS-P-6", type = "person", tags = { "victim" }, name = "Siti Aminah",
                        phones = { "+60123456789" } } } },
  expect = { MYS = "allow" },
  expect_records = { MYS = { { id = "MYS-P-6", name = "Siti Aminah", phones = { "+60123456789" } } } },
}

case "a routine investigation from outside ASEAN is denied by default" {
  request = { purpose = "investigation", priority = "routine", legal_basis = "mla_treaty",
              from = "BGD", subject = { name = "X" } },
  expect = { MYS = { effect = "deny", rule = "default_deny",
                     reason = "No rule of MYS allows this request." } },
}

case "a request without a real justification is refused by the regional baseline" {
  request = { purpose = "prosecution", priority = "urgent", legal_basis = "mla_treaty",
              from = "IDN", justification = "urgent", subject = { name = "X" } },
  expect = { MYS = { effect = "deny", rule = "every request explains why it is needed" } },
}

case "sensitive records are shared only for prosecution under a treaty" {
  request = { purpose = "prosecution", priority = "urgent", legal_basis = "bilateral_mou",
              from = "IDN", subject = { name = "X" } },
  records = { MYS = { { id = "MYS-P-7", type = "person", tags = { "suspect", "sensitive" } },
                      { id = "MYS-P-8", type = "person", tags = { "suspect" } } } },
  expect = { MYS = "allow" },
  expect_records = { MYS = { { id = "MYS-P-8" } } },
}

local many = {}
for i = 1, 25 do many[i] = { id = "MYS-V-" .. i, type = "vessel" } end

case "routine victim protection gets at most 20 records" {
  request = { purpose = "victim_protection", priority = "routine", legal_basis = "mla_treaty",
              from = "THA", subject = { vessel = "KM Sinar Laut" } },
  records = { MYS = many },
  expect = { MYS = "allow" },
  expect_records = { MYS = { table.unpack(many, 1, 20) } },
}

-- Malaysia's own outbound rules, as the requesting state.

case "Malaysian informal requests are never sent to Thailand" {
  request = { purpose = "investigation", priority = "immediate", legal_basis = "informal",
              from = "MYS", subject = { name = "X" } },
  expect = { THA = { effect = "withheld", rule = "no informal requests to Thailand", by = "MYS" },
             IDN = "allow" },
}

case "Malaysian requests to Thailand on a formal basis go out" {
  request = { purpose = "prosecution", priority = "urgent", legal_basis = "mla_treaty",
              case_ref = "MY-2026-0042", from = "MYS", subject = { name = "X" } },
  expect = { THA = { effect = "allow", rule = "prosecution under a treaty" } },
}

case "another state's informal request to Thailand is not Malaysia's business" {
  request = { purpose = "investigation", priority = "immediate", legal_basis = "informal",
              from = "IDN", subject = { name = "X" } },
  expect = { THA = "allow" },
}
