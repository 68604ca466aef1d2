/* The generated side of core/vocab.h: name arrays and look-ups. */
#include "core/vocab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FB_NAME_(id, name) name,
const char *const fb_purposes[] = {FB_PURPOSE_MAP(FB_NAME_) NULL};
const char *const fb_priorities[] = {FB_PRIORITY_MAP(FB_NAME_) NULL};
const char *const fb_legal_bases[] = {FB_LEGAL_BASIS_MAP(FB_NAME_) NULL};
const char *const fb_subject_fields[] = {FB_SUBJECT_MAP(FB_NAME_) NULL};
const char *const fb_tags[] = {FB_TAG_MAP(FB_NAME_) NULL};
const char *const fb_record_types[] = {FB_RECORD_TYPE_MAP(FB_NAME_) NULL};
const char *const fb_record_fields[] = {FB_RECORD_FIELD_MAP(FB_NAME_) NULL};
const char *const fb_role_names[] = {FB_ROLE_MAP(FB_NAME_) NULL};
const char *const fb_outcomes[] = {FB_OUTCOME_MAP(FB_NAME_) NULL};
const char *const fb_effects[] = {FB_EFFECT_MAP(FB_NAME_) NULL};
#undef FB_NAME_

/* Every search looks its words up several times (validation, each policy decision):
 * the first byte settles most mismatches without a call. */
int fb_list_index(const char *const *list, const char *s) {
  if (!s) return -1;
  for (int i = 0; list[i]; i++)
    if (list[i][0] == s[0] && strcmp(list[i], s) == 0) return i;
  return -1;
}

const char *fb_list_text(const char *const *list, char *out, size_t n) {
  size_t off = 0;
  if (n) out[0] = '\0';
  for (size_t i = 0; list[i] && off < n; i++)
    off += (size_t)snprintf(out + off, n - off, "%s%s", i ? ", " : "", list[i]);
  return out;
}

/* ISO 3166-1 alpha-3, from the iso-codes package's iso_3166-1.json (249 codes),
 * sorted for a binary search. */
static const char *const iso_list[] = {
    "ABW", "AFG", "AGO", "AIA", "ALA", "ALB", "AND", "ARE", "ARG", "ARM", "ASM", "ATA",
    "ATF", "ATG", "AUS", "AUT", "AZE", "BDI", "BEL", "BEN", "BES", "BFA", "BGD", "BGR",
    "BHR", "BHS", "BIH", "BLM", "BLR", "BLZ", "BMU", "BOL", "BRA", "BRB", "BRN", "BTN",
    "BVT", "BWA", "CAF", "CAN", "CCK", "CHE", "CHL", "CHN", "CIV", "CMR", "COD", "COG",
    "COK", "COL", "COM", "CPV", "CRI", "CUB", "CUW", "CXR", "CYM", "CYP", "CZE", "DEU",
    "DJI", "DMA", "DNK", "DOM", "DZA", "ECU", "EGY", "ERI", "ESH", "ESP", "EST", "ETH",
    "FIN", "FJI", "FLK", "FRA", "FRO", "FSM", "GAB", "GBR", "GEO", "GGY", "GHA", "GIB",
    "GIN", "GLP", "GMB", "GNB", "GNQ", "GRC", "GRD", "GRL", "GTM", "GUF", "GUM", "GUY",
    "HKG", "HMD", "HND", "HRV", "HTI", "HUN", "IDN", "IMN", "IND", "IOT", "IRL", "IRN",
    "IRQ", "ISL", "ISR", "ITA", "JAM", "JEY", "JOR", "JPN", "KAZ", "KEN", "KGZ", "KHM",
    "KIR", "KNA", "KOR", "KWT", "LAO", "LBN", "LBR", "LBY", "LCA", "LIE", "LKA", "LSO",
    "LTU", "LUX", "LVA", "MAC", "MAF", "MAR", "MCO", "MDA", "MDG", "MDV", "MEX", "MHL",
    "MKD", "MLI", "MLT", "MMR", "MNE", "MNG", "MNP", "MOZ", "MRT", "MSR", "MTQ", "MUS",
    "MWI", "MYS", "MYT", "NAM", "NCL", "NER", "NFK", "NGA", "NIC", "NIU", "NLD", "NOR",
    "NPL", "NRU", "NZL", "OMN", "PAK", "PAN", "PCN", "PER", "PHL", "PLW", "PNG", "POL",
    "PRI", "PRK", "PRT", "PRY", "PSE", "PYF", "QAT", "REU", "ROU", "RUS", "RWA", "SAU",
    "SDN", "SEN", "SGP", "SGS", "SHN", "SJM", "SLB", "SLE", "SLV", "SMR", "SOM", "SPM",
    "SRB", "SSD", "STP", "SUR", "SVK", "SVN", "SWE", "SWZ", "SXM", "SYC", "SYR", "TCA",
    "TCD", "TGO", "THA", "TJK", "TKL", "TKM", "TLS", "TON", "TTO", "TUN", "TUR", "TUV",
    "TWN", "TZA", "UGA", "UKR", "UMI", "URY", "USA", "UZB", "VAT", "VCT", "VEN", "VGB",
    "VIR", "VNM", "VUT", "WLF", "WSM", "YEM", "ZAF", "ZMB", "ZWE",
    NULL};
const char *const *const fb_iso3166_codes = iso_list;

static int cmp_code(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

bool fb_iso3166_alpha3(const char *s) {
  if (!s || strlen(s) != 3) return false;
  return bsearch(&s, iso_list, sizeof iso_list / sizeof iso_list[0] - 1, sizeof iso_list[0],
                 cmp_code) != NULL;
}
