-- The regional baseline agreed by every participating state (Bali Process setting).
--
-- It applies to every request to every state. Its "deny" rules are checked before
-- a state's own rules and always win. Its record rules (redact, drop) apply to the
-- records of every state, after which each state's own record rules apply too.

deny "every request explains why it is needed" {
  justification_shorter_than = 20,
  reason = "Explain in at least 20 characters why the information is needed.",
}

-- Records marked sensitive (informants, ongoing covert operations) are shared only
-- for a prosecution under a mutual legal assistance treaty.
drop "sensitive records only under a treaty, for prosecution" {
  records = { tags = { "sensitive" } },
  unless = { purpose = "prosecution", legal_basis = "mla_treaty" },
}

-- Victims and children are protected: outside victim protection their identities are
-- hidden, but their documents stay linkable (keyed hash) so that the same person is
-- recognised across states without being named.
redact "victims' and children's identities outside victim protection" {
  records = { tags = { "victim", "minor" } },
  fields = { "name", "aliases", "address", "phones" },
  action = "mask",
  unless = { purpose = "victim_protection" },
}

redact "victims' and children's documents stay linkable but unreadable" {
  records = { tags = { "victim", "minor" } },
  fields = { "documents" },
  action = "hash",
  unless = { purpose = "victim_protection" },
}

redact "children's dates of birth show the year only" {
  records = { tags = { "minor" } },
  fields = { "dob" },
  action = "year",
}

-- Investigators' internal notes never leave the owning state.
redact "internal notes are not shared" {
  fields = { "notes" },
  action = "remove",
}
