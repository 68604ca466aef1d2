#include "demo/demo_data.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/error.h"
#include "core/util.h"
#include "records/sqlite_db.h"

#define PERSONS_PER_STATE 3000
#define VESSELS_PER_STATE 200
#define SHARED_PERSONS 400
#define SHARED_VESSELS 60
#define CROSS_SCRIPT_PERSONS 160 /* shared people with native-script spellings, appended */

const char *const fb_demo_states[4] = {"IDN", "MYS", "THA", "BGD"};
enum { IDN, MYS, THA, BGD, NSTATES };

/* ---- deterministic randomness (splitmix64: same sequence on every platform) ---- */

typedef struct { uint64_t s; } rng;

static uint64_t next(rng *r) {
  uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
static unsigned pick(rng *r, unsigned n) { return (unsigned)(next(r) % n); }
static bool chance(rng *r, unsigned percent) { return pick(r, 100) < percent; }
#define PICK(r, arr) (arr)[pick(r, FB_ARRAY_LEN(arr))]

/* ---- vocabularies ---- */

static const char *const mys_male[] = {"Ahmad", "Mohd Faizal", "Muhammad Hafiz", "Azman", "Zulkifli",
  "Hafiz", "Firdaus", "Khairul", "Amirul", "Syafiq", "Ismail", "Razak", "Hakim", "Fadzil", "Rosli",
  "Kamal", "Nazri", "Shahrul", "Aiman", "Hisham", "Iskandar", "Jamal", "Rizal", "Zainal", "Yusof"};
static const char *const mys_female[] = {"Nur Aisyah", "Siti Nurhaliza", "Nurul Huda", "Farah",
  "Aminah", "Fatimah", "Aishah", "Zarina", "Rohani", "Salmah", "Norazlina", "Hidayah", "Syazwani",
  "Liyana", "Amira", "Nadia"};
static const char *const mys_father[] = {"Ismail", "Abdullah", "Rahman", "Hassan", "Hussein",
  "Ibrahim", "Yusof", "Othman", "Ahmad", "Osman", "Razak", "Omar", "Sulaiman", "Zakaria", "Salleh",
  "Mahmud", "Idris", "Hamzah", "Aziz", "Kassim"};
static const char *const idn_male[] = {"Budi", "Agus", "Joko", "Bambang", "Rudi", "Hendra", "Eko",
  "Dedi", "Andi", "Wahyu", "Slamet", "Yusuf", "Rizky", "Fajar", "Arief", "Hadi", "Iwan", "Taufik"};
static const char *const idn_female[] = {"Siti", "Dewi", "Sri", "Rina", "Wati", "Ayu", "Putri",
  "Ratna", "Indah", "Fitri", "Nur", "Lestari", "Yanti"};
static const char *const idn_surname[] = {"Santoso", "Wijaya", "Saputra", "Hidayat", "Setiawan",
  "Kurniawan", "Pratama", "Nugroho", "Susanto", "Rahayu", "Hartono", "Gunawan", "Siregar",
  "Simanjuntak", "Nasution", "Harahap", "Lubis", "Sitompul"};
static const char *const tha_male[] = {"Somchai", "Somsak", "Prasert", "Wichai", "Sombat", "Anan",
  "Chaiwat", "Kittisak", "Narong", "Surachai", "Thanakorn", "Niran"};
static const char *const tha_female[] = {"Malee", "Siriporn", "Pranee", "Kanya", "Sunee", "Wanida",
  "Ratana", "Orathai", "Pensri", "Kulap", "Duangjai"};
static const char *const tha_surname[] = {"Saetang", "Chaiyaporn", "Kaewmanee", "Boonmee",
  "Thongchai", "Phromma", "Srisawat", "Sukjai", "Rattanaporn", "Wongsa", "Inthasorn",
  "Chanthawong", "Kongkaew", "Yodsuwan", "Jaidee"};
static const char *const bgd_male[] = {"Mohammad Rafiqul", "Md. Kamrul", "Abdul Karim", "Shahidul",
  "Aminul", "Jahangir", "Nurul", "Habibur", "Mizanur", "Sohel", "Rubel", "Alamgir", "Anwar",
  "Mohammad Abdul"};
static const char *const bgd_female[] = {"Rahima", "Fatema", "Nasrin", "Shirin", "Ayesha", "Rokeya",
  "Salma", "Taslima", "Nazma", "Sumaiya", "Ruma", "Farzana"};
static const char *const bgd_surname_m[] = {"Islam", "Hossain", "Rahman", "Ahmed", "Uddin", "Alam",
  "Miah", "Sarkar", "Chowdhury", "Hasan", "Karim", "Mollah", "Sheikh"};
static const char *const bgd_surname_f[] = {"Begum", "Khatun", "Akter", "Islam", "Rahman", "Chowdhury"};

static const char *const cities[NSTATES][7] = {
    {"Nunukan", "Tanjung Pinang", "Batam", "Medan", "Makassar", "Kupang", "Dumai"},
    {"Kota Kinabalu", "Tawau", "Sandakan", "Johor Bahru", "Klang", "George Town", "Kuala Lumpur"},
    {"Satun", "Ranong", "Songkhla", "Phang Nga", "Bangkok", "Hat Yai", "Pattani"},
    {"Cox's Bazar", "Teknaf", "Chattogram", "Dhaka", "Sylhet", "Khulna", "Barishal"}};
static const char *const streets[NSTATES][5] = {
    {"Jl. Merdeka", "Jl. Sudirman", "Jl. Pelabuhan", "Jl. Nelayan", "Gang Mawar"},
    {"Jalan Pantai", "Jalan Besar", "Lorong Nelayan", "Jalan Pelabuhan", "Taman Seri"},
    {"Soi Ruam Jai", "Thanon Sukhum", "Moo 4", "Soi Prachasan", "Thanon Talay"},
    {"Station Road", "Marine Drive", "Kolatoli Road", "Jubilee Road", "Ghat Road"}};
static const char *const case_prefix[NSTATES] = {"ID", "MY", "TH", "BD"};
static const char *const offences[] = {"people_smuggling", "trafficking_in_persons", "forced_labour",
  "document_fraud", "money_laundering", "sexual_exploitation"};
static const char *const statuses[] = {"open", "open", "under_investigation", "closed", "referred"};
static const char *const vessel_a[] = {"Sinar", "Bintang", "Cahaya", "Harapan", "Mutiara", "Samudra",
  "Rezeki", "Berkat", "Jaya", "Bahari"};
static const char *const vessel_b[] = {"Laut", "Baru", "Abadi", "Makmur", "Timur", "Utama", "Selatan",
  "Permai", "Indah"};
static const char *const tha_vessel[] = {"Chokchai", "Sinsamut", "Ruangsak", "Petchsamut", "Sor Somboon"};
static const char *const bgd_vessel[] = {"Al-Madina", "Sonar Tori", "Moyna", "Padma", "Meghna", "Jamuna"};

/* Spellings that denote one name (transliteration variants). */
static const char *const variants[][4] = {
    {"Mohammad", "Muhammad", "Mohamed", "Mohammed"}, {"Ahmad", "Ahmed", NULL, NULL},
    {"Yusof", "Yusuf", NULL, NULL},   {"Rahman", "Rehman", NULL, NULL},
    {"Osman", "Usman", NULL, NULL},   {"Hossain", "Hussain", "Hosen", NULL},
    {"Aisyah", "Aishah", "Aisha", NULL}, {"Fatimah", "Fatima", "Fatema", NULL},
    {"Hassan", "Hasan", NULL, NULL},  {"Hussein", "Husain", "Hussain", NULL},
    {"Ismail", "Ismael", NULL, NULL}, {"Somchai", "Somchay", NULL, NULL},
    {"Uddin", "Udin", NULL, NULL},    {"Chowdhury", "Choudhury", NULL, NULL},
    {"Zulkifli", "Zulkefli", NULL, NULL}, {"Khairul", "Khairol", NULL, NULL},
    {"Syafiq", "Shafiq", NULL, NULL}, {"Rafiqul", "Rafikul", NULL, NULL},
    {"Ayesha", "Aisha", NULL, NULL},  {"Yusuf", "Yusof", NULL, NULL}};

/* ---- people ---- */

typedef struct {
  char given[48], connector[8], family[48]; /* "Ahmad" "bin" "Ismail" */
  char sex;
  int nat;
  char dob[40]; /* room for any int the compiler can imagine */
  char passport[16], natid[24], phone[20];
  const char *role; /* suspect, facilitator, victim, witness */
  bool minor;
  const char *fixed_case; /* "2026-0042": a known subject's case, under each state's prefix */
  const char *nationality; /* overrides fb_demo_states[nat] (people from outside the demo states) */
  char display[160];       /* when set, the name exactly as written (native script, variants) */
} person;

static void make_person(rng *r, int nat, person *p) {
  memset(p, 0, sizeof *p);
  p->nat = nat;
  p->sex = chance(r, 60) ? 'M' : 'F';
  bool m = p->sex == 'M';
  unsigned roll = pick(r, 100);
  p->role = roll < 25 ? "suspect" : roll < 37 ? "facilitator" : roll < 70 ? "victim" : "witness";
  p->minor = strcmp(p->role, "victim") == 0 && chance(r, 30);
  int year = p->minor ? 2008 + (int)pick(r, 5) : 1960 + (int)pick(r, 45);
  snprintf(p->dob, sizeof p->dob, "%04d-%02u-%02u", year, 1 + pick(r, 12), 1 + pick(r, 28));
  switch (nat) {
    case MYS:
      snprintf(p->given, sizeof p->given, "%s", m ? PICK(r, mys_male) : PICK(r, mys_female));
      snprintf(p->connector, sizeof p->connector, "%s", m ? "bin" : "binti");
      snprintf(p->family, sizeof p->family, "%s", PICK(r, mys_father));
      snprintf(p->passport, sizeof p->passport, "A%08u", (unsigned)pick(r, 100000000));
      snprintf(p->natid, sizeof p->natid, "%02d%.2s%.2s-%02u-%04u", year % 100, p->dob + 5, p->dob + 8,
               1 + pick(r, 16), pick(r, 10000));
      snprintf(p->phone, sizeof p->phone, "+601%u%07u", pick(r, 10), pick(r, 10000000));
      break;
    case IDN:
      snprintf(p->given, sizeof p->given, "%s", m ? PICK(r, idn_male) : PICK(r, idn_female));
      if (!chance(r, 15)) snprintf(p->family, sizeof p->family, "%s", PICK(r, idn_surname));
      snprintf(p->passport, sizeof p->passport, "B%07u", (unsigned)pick(r, 10000000));
      snprintf(p->natid, sizeof p->natid, "%08u%08u", pick(r, 100000000), pick(r, 100000000));
      snprintf(p->phone, sizeof p->phone, "+628%u%08u", 1 + pick(r, 9), pick(r, 100000000));
      break;
    case THA:
      snprintf(p->given, sizeof p->given, "%s", m ? PICK(r, tha_male) : PICK(r, tha_female));
      snprintf(p->family, sizeof p->family, "%s", PICK(r, tha_surname));
      snprintf(p->passport, sizeof p->passport, "AA%07u", (unsigned)pick(r, 10000000));
      snprintf(p->natid, sizeof p->natid, "%u%06u%06u", 1 + pick(r, 8), pick(r, 1000000), pick(r, 1000000));
      snprintf(p->phone, sizeof p->phone, "+66%c%08u", "689"[pick(r, 3)], pick(r, 100000000));
      break;
    default:
      snprintf(p->given, sizeof p->given, "%s", m ? PICK(r, bgd_male) : PICK(r, bgd_female));
      snprintf(p->family, sizeof p->family, "%s", m ? PICK(r, bgd_surname_m) : PICK(r, bgd_surname_f));
      snprintf(p->passport, sizeof p->passport, "BH%07u", (unsigned)pick(r, 10000000));
      snprintf(p->natid, sizeof p->natid, "%05u%05u", pick(r, 100000), pick(r, 100000));
      snprintf(p->phone, sizeof p->phone, "+8801%u%08u", 3 + pick(r, 7), pick(r, 100000000));
      break;
  }
}

/* Replaces each word that has transliteration variants by a random one of them. */
static void transliterate(rng *r, const char *in, char *out, size_t outlen) {
  fb_buf b = {0};
  const char *p = in;
  while (*p) {
    const char *q = strchr(p, ' ');
    size_t n = q ? (size_t)(q - p) : strlen(p);
    const char *rep = NULL;
    for (size_t v = 0; v < FB_ARRAY_LEN(variants) && !rep; v++)
      for (int k = 0; k < 4 && variants[v][k]; k++)
        if (strlen(variants[v][k]) == n && strncmp(variants[v][k], p, n) == 0) {
          int count = 0;
          while (count < 4 && variants[v][count]) count++;
          rep = variants[v][pick(r, (unsigned)count)];
          break;
        }
    if (b.len) fb_buf_putc(&b, ' ');
    if (rep) fb_buf_puts(&b, rep);
    else fb_buf_append(&b, p, n);
    p += n;
    while (*p == ' ') p++;
  }
  snprintf(out, outlen, "%s", b.data ? b.data : "");
  fb_buf_free(&b);
}

/* How one state spells a person: variant 0 is canonical; others drop or abbreviate
 * the connector, reverse the word order, transliterate or upper-case. */
static void spell(rng *r, const person *p, int variant, char *out, size_t outlen) {
  char given[64], family[64];
  snprintf(given, sizeof given, "%s", p->given);
  snprintf(family, sizeof family, "%s", p->family);
  const char *conn = p->connector;
  switch (variant) {
    case 1: conn = ""; break;
    case 2: conn = ""; { char t[64]; memcpy(t, given, sizeof t); memcpy(given, family, sizeof t); memcpy(family, t, sizeof t); } break;
    case 3: transliterate(r, p->given, given, sizeof given); transliterate(r, p->family, family, sizeof family); break;
    case 4: conn = strcmp(conn, "bin") == 0 ? "b." : strcmp(conn, "binti") == 0 ? "bte" : ""; break;
    default: break;
  }
  snprintf(out, outlen, "%s%s%s%s%s", given, *family && *conn ? " " : "", conn, *family ? " " : "", family);
  if (variant == 5)
    for (char *c = out; *c; c++) *c = (char)(*c >= 'a' && *c <= 'z' ? *c - 32 : *c);
}

typedef struct {
  char name[40], imo[8];
  int flag;
} vessel;

static void imo_number(rng *r, char out[8]) {
  unsigned d[6], sum = 0;
  d[0] = 9; /* modern IMO numbers start with 9 */
  for (int i = 1; i < 6; i++) d[i] = pick(r, 10);
  for (int i = 0; i < 6; i++) sum += d[i] * (unsigned)(7 - i);
  snprintf(out, 8, "%u%u%u%u%u%u%u", d[0], d[1], d[2], d[3], d[4], d[5], sum % 10);
}

static void make_vessel(rng *r, int flag, vessel *v) {
  v->flag = flag;
  imo_number(r, v->imo);
  switch (flag) {
    case IDN: snprintf(v->name, sizeof v->name, "KM %s %s", PICK(r, vessel_a), PICK(r, vessel_b)); break;
    case MYS: snprintf(v->name, sizeof v->name, "MV %s %s", PICK(r, vessel_a), PICK(r, vessel_b)); break;
    case THA: snprintf(v->name, sizeof v->name, "%s %u", PICK(r, tha_vessel), 1 + pick(r, 30)); break;
    default: snprintf(v->name, sizeof v->name, "FV %s %u", PICK(r, bgd_vessel), 1 + pick(r, 12)); break;
  }
}

/* ---- records ---- */

typedef struct {
  fb_sqlite_db *db;
  int state;
  unsigned nperson, nvessel;
  char last_id[24]; /* id of the last record written */
  vessel *fleet; /* this state's own vessels, for crew links */
  unsigned nfleet;
} sink;

static void add_case(rng *r, json_t *rec, int state, const char *fixed) {
  json_t *cases = json_array();
  if (fixed) {
    char ref[24];
    snprintf(ref, sizeof ref, "%s-%s", case_prefix[state], fixed);
    json_array_append_new(cases, json_pack("{s:s, s:s, s:s}", "ref", ref, "offence", "people_smuggling",
                                           "status", "open"));
  }
  unsigned n = 1 + pick(r, 2);
  for (unsigned i = 0; i < n; i++) {
    char ref[24];
    snprintf(ref, sizeof ref, "%s-%u-%04u", case_prefix[state], 2019 + pick(r, 8), pick(r, 10000));
    json_array_append_new(cases, json_pack("{s:s, s:s, s:s}", "ref", ref, "offence", PICK(r, offences),
                                           "status", PICK(r, statuses)));
  }
  json_object_set_new(rec, "cases", cases);
}

static json_t *vessel_json(const vessel *v, const char *name) {
  return json_pack("{s:s, s:s, s:s}", "name", name ? name : v->name, "imo", v->imo, "flag",
                   fb_demo_states[v->flag]);
}

static int emit(sink *s, json_t *rec, char **err) {
  int rc = fb_sqlite_db_add(s->db, rec, err);
  json_decref(rec);
  return rc;
}

/* One person record as `state` holds it. `variant`/`year_only`/`with_*` shape how much
 * of the identity this state knows. */
static int emit_person(rng *r, sink *s, const person *p, int variant, bool year_only, bool with_passport,
                       bool with_phone, const vessel *on_board, const char *alias, char **err) {
  char id[24], name[160], updated[11];
  snprintf(id, sizeof id, "%s-P-%06u", fb_demo_states[s->state], ++s->nperson);
  if (p->display[0]) snprintf(name, sizeof name, "%s", p->display);
  else spell(r, p, variant, name, sizeof name);
  snprintf(s->last_id, sizeof s->last_id, "%s", id);
  json_t *tags = json_array();
  json_array_append_new(tags, json_string(p->role));
  if (p->minor) json_array_append_new(tags, json_string("minor"));
  if (strcmp(p->role, "victim") == 0 && chance(r, 20)) json_array_append_new(tags, json_string("sensitive"));
  json_t *rec = json_pack("{s:s, s:s, s:o, s:s}", "id", id, "type", "person", "tags", tags, "name", name);
  if (alias) json_object_set_new(rec, "aliases", json_pack("[s]", alias));
  char dob[11];
  snprintf(dob, sizeof dob, "%.*s", year_only ? 4 : 10, p->dob);
  json_object_set_new(rec, "dob", json_string(dob));
  json_object_set_new(rec, "sex", json_stringn(&p->sex, 1));
  json_object_set_new(rec, "nationality", json_string(p->nationality ? p->nationality : fb_demo_states[p->nat]));
  json_t *docs = json_array();
  if (with_passport)
    json_array_append_new(docs, json_pack("{s:s, s:s, s:s}", "kind", "passport", "number", p->passport,
                                          "country", p->nationality ? p->nationality : fb_demo_states[p->nat]));
  if (!p->nationality && p->nat == s->state && chance(r, 70))
    json_array_append_new(docs, json_pack("{s:s, s:s, s:s}", "kind", "national_id", "number", p->natid,
                                          "country", fb_demo_states[p->nat]));
  if (json_array_size(docs)) json_object_set_new(rec, "documents", docs);
  else json_decref(docs);
  if (with_phone) json_object_set_new(rec, "phones", json_pack("[s]", p->phone));
  char addr[96];
  snprintf(addr, sizeof addr, "No. %u, %s, %s", 1 + pick(r, 200), PICK(r, streets[s->state]),
           PICK(r, cities[s->state]));
  json_object_set_new(rec, "address", json_string(addr));
  if (on_board) json_object_set_new(rec, "vessel", vessel_json(on_board, NULL));
  add_case(r, rec, s->state, p->fixed_case);
  snprintf(updated, sizeof updated, "202%u-%02u-%02u", 4 + pick(r, 2), 1 + pick(r, 12), 1 + pick(r, 28));
  json_object_set_new(rec, "notes", json_string(strcmp(p->role, "victim") == 0 ? "Identified during a joint screening operation."
                                                : "Subject of an ongoing inquiry."));
  json_object_set_new(rec, "updated", json_string(updated));
  return emit(s, rec, err);
}

static int emit_vessel(rng *r, sink *s, const vessel *v, const char *name, const char *tag, char **err) {
  char id[24];
  snprintf(id, sizeof id, "%s-V-%06u", fb_demo_states[s->state], ++s->nvessel);
  json_t *rec = json_pack("{s:s, s:s, s:[s], s:s, s:o}", "id", id, "type", "vessel", "tags", tag, "name",
                          name ? name : v->name, "vessel", vessel_json(v, name));
  add_case(r, rec, s->state, NULL);
  json_object_set_new(rec, "updated", json_string("2025-11-30"));
  return emit(s, rec, err);
}

/* The well-known demo subjects of docs/adapters.md, first in every file. */
static const person ahmad = {"Ahmad", "bin", "Ismail", 'M', MYS, "1985-03-12", "A12345678",
                             "850312-12-5523", "+60123456789", "facilitator", false, "2026-0042", NULL, ""};
static const person aisyah = {"Nur Aisyah", "binti", "Rahman", 'F', IDN, "2010-07-21", "B7654321",
                              "6471055207100003", "+6281234567890", "victim", true, "2025-0117", NULL, ""};
static const person rafiqul = {"Mohammad Rafiqul", "", "Islam", 'M', BGD, "1979-11-02", "BH0123456",
                               "1979110234", "+8801712345678", "facilitator", false, "2026-0042", NULL, ""};
static const person somchai = {"Somchai", "", "Jaidee", 'M', THA, "1971-05-30", "AA1234567",
                               "3100700123456", "+66812345678", "suspect", false, "2025-0031", NULL, ""};
static const vessel sinar = {"KM Sinar Laut", "9123453", IDN};
static const vessel chokchai = {"Chokchai 8", "9234563", THA};

/* ---- ground truth (truth.json): which records denote one real person ---- */

static json_t *truth_person(json_t *people, const char *name, const char *dob) {
  char pid[16];
  snprintf(pid, sizeof pid, "P%04zu", json_array_size(people) + 1);
  json_t *o = json_pack("{s:s, s:s, s:s, s:[]}", "person", pid, "name", name, "dob", dob, "records");
  json_array_append_new(people, o);
  return o;
}

static void truth_record(json_t *truth, const sink *s) {
  json_array_append_new(json_object_get(truth, "records"), json_string(s->last_id));
}

/* known[]: the truth entries of Ahmad, Aisyah, Rafiqul and Somchai. */
static int emit_known(rng *r, sink *s, json_t *const known[4], char **err) {
  int st = s->state;
  /* Ahmad bin Ismail: in all four states, differently spelled, linked by passport. */
  static const int ahmad_variant[NSTATES] = {1, 0, 2, 0};
  person a = ahmad;
  if (st == BGD) snprintf(a.given, sizeof a.given, "Ahmed");
  if (emit_person(r, s, &a, ahmad_variant[st], st == THA, true, st == MYS || st == THA, &sinar,
                  st == MYS ? "Mat Sinar" : NULL, err))
    return -1;
  truth_record(known[0], s);
  static const char *const sinar_names[NSTATES] = {"KM Sinar Laut", "K.M. Sinar Laut", "Sinar Laut", "KM SINAR LAUT"};
  if (emit_vessel(r, s, &sinar, sinar_names[st], "suspect", err)) return -1;
  if (st != BGD) {
    if (emit_person(r, s, &aisyah, st == IDN ? 0 : 1, false, st != THA, false, NULL, NULL, err)) return -1;
    truth_record(known[1], s);
  }
  person rq = rafiqul;
  if (st == MYS) snprintf(rq.given, sizeof rq.given, "Muhammad Rafiqul");
  if (st == THA) snprintf(rq.given, sizeof rq.given, "Md. Rafiqul");
  if (st != IDN) {
    if (emit_person(r, s, &rq, 0, st == THA, true, st != MYS, NULL, NULL, err)) return -1;
    truth_record(known[2], s);
  }
  if (st == THA || st == MYS) {
    if (emit_person(r, s, &somchai, 0, false, st == THA, true, &chokchai, NULL, err)) return -1;
    truth_record(known[3], s);
    if (emit_vessel(r, s, &chokchai, NULL, "suspect", err)) return -1;
  }
  return 0;
}

/* ---- the cross-script population ---- */

/* A name word: Latin spellings (the first canonical, the others variants seen in
 * real registers) and the word in the script of its people's home register. */
typedef struct {
  const char *latin[3];
  const char *native;
} nword;

static const nword tha_m[] = {{{"Somchai", "Somchay"}, "สมชาย"}, {{"Somsak", "Somsuk"}, "สมศักดิ์"},
  {{"Wichai", "Wichay", "Vichai"}, "วิชัย"}, {{"Chaiwat", "Chaiwath"}, "ชัยวัฒน์"}, {{"Anan"}, "อนันต์"},
  {{"Sombat", "Sombath"}, "สมบัติ"}};
static const nword tha_f[] = {{{"Malee", "Mali"}, "มาลี"}, {{"Suda"}, "สุดา"}, {{"Sunee", "Suni"}, "สุนีย์"},
  {{"Wanida", "Vanida"}, "วนิดา"}, {{"Ratana", "Rattana"}, "รัตนา"}};
static const nword tha_fam[] = {{{"Jaidee", "Jaidi", "Chaidee"}, "ใจดี"}, {{"Boonmee", "Bunmi"}, "บุญมี"},
  {{"Thongdee", "Thongdi", "Tongdee"}, "ทองดี"}, {{"Srisawat", "Srisawad"}, "ศรีสวัสดิ์"},
  {{"Kaewmanee", "Kaewmani"}, "แก้วมณี"}};
static const nword bgd_m[] = {{{"Kamrul", "Kamrul"}, "কামরুল"}, {{"Shahidul", "Sahidul"}, "শহিদুল"},
  {{"Aminul", "Aminul"}, "আমিনুল"}, {{"Jahangir", "Jahangeer"}, "জাহাঙ্গীর"}, {{"Habibur", "Habibor"}, "হাবিবুর"},
  {{"Mizanur", "Mijanur"}, "মিজানুর"}, {{"Sohel", "Shohel"}, "সোহেল"}, {{"Alamgir", "Alamgeer"}, "আলমগীর"},
  {{"Anwar", "Anowar"}, "আনোয়ার"}, {{"Karim", "Kareem"}, "করিম"}};
static const nword bgd_f[] = {{{"Rahima", "Rohima"}, "রহিমা"}, {{"Fatema", "Fatima"}, "ফাতেমা"},
  {{"Nasrin", "Nasreen"}, "নাসরিন"}, {{"Ayesha", "Aysha"}, "আয়েশা"}, {{"Salma"}, "সালমা"},
  {{"Taslima", "Tasleema"}, "তাসলিমা"}, {{"Nazma", "Najma"}, "নাজমা"}};
static const nword bgd_fam_m[] = {{{"Islam"}, "ইসলাম"}, {{"Hossain", "Hussain", "Hosen"}, "হোসেন"},
  {{"Rahman", "Rahaman"}, "রহমান"}, {{"Ahmed", "Ahmad"}, "আহমেদ"}, {{"Uddin", "Udin"}, "উদ্দিন"},
  {{"Alam"}, "আলম"}, {{"Sarkar", "Sarker"}, "সরকার"}, {{"Chowdhury", "Choudhury", "Chowdhuri"}, "চৌধুরী"}};
static const nword bgd_fam_f[] = {{{"Begum", "Begom"}, "বেগম"}, {{"Khatun", "Khatoon"}, "খাতুন"},
  {{"Akter", "Akhter", "Aktar"}, "আক্তার"}};
static const nword mys_m[] = {{{"Ahmad", "Ahmed"}, "احمد"}, {{"Ismail", "Ismael"}, "اسماعيل"},
  {{"Hassan", "Hasan"}, "حسن"}, {{"Ibrahim"}, "ابراهيم"}, {{"Yusof", "Yusuf"}, "يوسف"}, {{"Omar", "Umar"}, "عمر"},
  {{"Aziz"}, "عزيز"}, {{"Idris"}, "ادريس"}, {{"Kamal"}, "كمال"}, {{"Jamal"}, "جمال"}, {{"Sulaiman", "Sulayman"}, "سليمان"}};
static const nword mys_f[] = {{{"Fatimah", "Fatima"}, "فاطمة"}, {{"Aminah", "Amina"}, "امينة"},
  {{"Aishah", "Aisyah", "Aisha"}, "عائشة"}, {{"Salmah", "Salma"}, "سلمى"}};
static const nword mys_fam[] = {{{"Abdullah", "Abdulla"}, "عبدالله"}, {{"Rahman"}, "رحمن"},
  {{"Hamzah", "Hamza"}, "حمزة"}, {{"Zakaria", "Zakariya"}, "زكريا"}, {{"Osman", "Usman", "Uthman"}, "عثمان"},
  {{"Hashim", "Hasyim"}, "هاشم"}, {{"Idris"}, "ادريس"}};
static const nword rhg_m[] = {{{"Mohammed", "Mohamed", "Muhammad"}, "محمد"}, {{"Ayub", "Ayoub"}, "ايوب"},
  {{"Rashid", "Rasheed"}, "رشيد"}, {{"Shafi", "Shafee"}, "شفيع"}, {{"Hashim", "Hashem"}, "هاشم"},
  {{"Nur", "Noor"}, "نور"}};
static const nword rhg_f[] = {{{"Jamila", "Jamilah"}, "جميلة"}, {{"Hasina", "Hasinah"}, "حسينة"},
  {{"Khadija", "Khadijah"}, "خديجة"}, {{"Fatima", "Fatema"}, "فاطمة"}};
static const nword rhg_fam[] = {{{"Alam"}, "عالم"}, {{"Hussain", "Hossain"}, "حسين"}, {{"Islam"}, "اسلام"},
  {{"Rahman"}, "رحمن"}, {{"Karim"}, "كريم"}};
static const nword mmr_m[] = {{{"Aung"}, "အောင်"}, {{"Kyaw"}, "ကျော်"}, {{"Maung"}, "မောင်"},
  {{"Min"}, "မင်း"}, {{"Myo"}, "မျိုး"}, {{"Soe"}, "စိုး"}, {{"Hein"}, "ဟိန်း"}, {{"Tun", "Htun"}, "ထွန်း"},
  {{"Phyo"}, "ဖြိုး"}};
static const nword mmr_f[] = {{{"Khin"}, "ခင်"}, {{"Su"}, "စု"}, {{"Moe"}, "မိုး"}, {{"Nwe"}, "နွယ်"},
  {{"San"}, "စန်း"}, {{"Aye"}, "အေး"}, {{"Mar"}, "မာ"}, {{"Yu"}, "ယု"}};
static const nword mmr_fam[] = {{{"Win"}, "ဝင်း"}, {{"Kyaw"}, "ကျော်"}, {{"Aung"}, "အောင်"}, {{"Min"}, "မင်း"},
  {{"Lin"}, "လင်း"}, {{"Tun", "Htun"}, "ထွန်း"}, {{"Hein"}, "ဟိန်း"}, {{"Soe"}, "စိုး"}, {{"Myo"}, "မျိုး"}};

#define WORDS(a) a, FB_ARRAY_LEN(a)
typedef struct {
  const char *script, *nationality; /* nationality NULL: that of `nat` */
  unsigned home; /* the state whose register writes the script */
  int nat;      /* passport and phone formats */
  const nword *m;
  unsigned nm;
  const nword *f;
  unsigned nf;
  const nword *fam_m;
  unsigned nfam_m;
  const nword *fam_f;
  unsigned nfam_f;
  const char *conn_m, *conn_f, *native_conn_m, *native_conn_f; /* Malay "bin"/"binti" */
} culture;

static const culture cultures[] = {
    {"Thai", NULL, THA, THA, WORDS(tha_m), WORDS(tha_f), WORDS(tha_fam), WORDS(tha_fam), "", "", "", ""},
    {"Bengali", NULL, BGD, BGD, WORDS(bgd_m), WORDS(bgd_f), WORDS(bgd_fam_m), WORDS(bgd_fam_f), "", "", "", ""},
    {"Arabic (Jawi)", NULL, MYS, MYS, WORDS(mys_m), WORDS(mys_f), WORDS(mys_fam), WORDS(mys_fam), "bin", "binti",
     "بن", "بنت"},
    {"Arabic (Rohingya)", "MMR", BGD, BGD, WORDS(rhg_m), WORDS(rhg_f), WORDS(rhg_fam), WORDS(rhg_fam), "", "", "", ""},
    {"Burmese", "MMR", THA, THA, WORDS(mmr_m), WORDS(mmr_f), WORDS(mmr_fam), WORDS(mmr_fam), "", "", "", ""},
};

/* A Latin spelling of a word: the canonical one most of the time, else any variant. */
static const char *latin_word(rng *r, const nword *w) {
  unsigned n = 0;
  while (n < 3 && w->latin[n]) n++;
  return chance(r, 50) ? w->latin[0] : w->latin[pick(r, n)];
}

/* People whose home register writes their name in its own script (Thai, Bengali,
 * Jawi, Arabic script for Rohingya, Burmese) while the other states hold Latin
 * transliterations with the variants real registers show: another vowel, a dropped
 * or abbreviated "bin", the family name first, capitals. Drawn from their own random
 * stream and written after everyone else, so the rest of the data is as before. */
static int emit_cross_script(rng *r, sink *sinks, json_t *people, char **err) {
  for (unsigned i = 0; i < CROSS_SCRIPT_PERSONS; i++) {
    const culture *c = &cultures[pick(r, FB_ARRAY_LEN(cultures))];
    person p;
    make_person(r, c->nat, &p);
    p.nationality = c->nationality;
    bool m = p.sex == 'M';
    const nword *g = m ? &c->m[pick(r, c->nm)] : &c->f[pick(r, c->nf)];
    const nword *fam = m ? &c->fam_m[pick(r, c->nfam_m)] : &c->fam_f[pick(r, c->nfam_f)];
    const char *conn = m ? c->conn_m : c->conn_f, *nconn = m ? c->native_conn_m : c->native_conn_f;
    char canon[160], native[160];
    snprintf(canon, sizeof canon, "%s%s%s %s", g->latin[0], *conn ? " " : "", conn, fam->latin[0]);
    snprintf(native, sizeof native, "%s%s%s %s", g->native, *nconn ? " " : "", nconn, fam->native);
    json_t *truth = truth_person(people, canon, p.dob);
    json_object_set_new(truth, "script", json_string(c->script));
    json_object_set_new(truth, "native_queries", json_pack("[s]", native));
    json_t *native_records = json_array();
    unsigned k = 2 + pick(r, 3);
    for (unsigned j = 0; j < k; j++) {
      sink *s = &sinks[(c->home + j) % NSTATES];
      bool in_script = j == 0 && chance(r, 80);
      if (in_script) {
        snprintf(p.display, sizeof p.display, "%s", native);
      } else {
        const char *gl = latin_word(r, g), *fl = latin_word(r, fam), *cl = conn;
        if (*conn && chance(r, 40)) cl = chance(r, 50) ? "" : (m ? "b." : "bt.");
        if (chance(r, 15)) snprintf(p.display, sizeof p.display, "%s %s", fl, gl); /* family name first */
        else snprintf(p.display, sizeof p.display, "%s%s%s %s", gl, *cl ? " " : "", cl, fl);
        if (chance(r, 10))
          for (char *x = p.display; *x; x++) *x = (char)(*x >= 'a' && *x <= 'z' ? *x - 32 : *x);
      }
      bool year_only = chance(r, 30), passport = chance(r, 65), phone = chance(r, 50);
      if (emit_person(r, s, &p, 0, year_only, passport, phone, NULL, NULL, err)) {
        json_decref(native_records);
        return -1;
      }
      truth_record(truth, s);
      if (in_script) json_array_append_new(native_records, json_string(s->last_id));
    }
    json_object_set_new(truth, "native_records", native_records);
  }
  return 0;
}

static int generate(const char *dir, unsigned seed, char **err) {
  sink sinks[NSTATES] = {0};
  int rc = -1;
  json_t *people = json_array();
  vessel *fleets = fb_xcalloc(NSTATES * VESSELS_PER_STATE, sizeof *fleets);
  rng r = {((uint64_t)seed << 1) ^ 0x5EED5EED5EEDull};
  for (int st = 0; st < NSTATES; st++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.db", dir, fb_demo_states[st]);
    sinks[st].state = st;
    sinks[st].fleet = fleets + st * VESSELS_PER_STATE;
    if (fb_sqlite_db_create(path, &sinks[st].db, err) != 0) goto done;
  }
  json_t *known[4] = {truth_person(people, "Ahmad bin Ismail", ahmad.dob),
                      truth_person(people, "Nur Aisyah binti Rahman", aisyah.dob),
                      truth_person(people, "Mohammad Rafiqul Islam", rafiqul.dob),
                      truth_person(people, "Somchai Jaidee", somchai.dob)};
  /* The examples: Ahmad written in Thai, Bengali and Jawi. */
  json_object_set_new(known[0], "native_queries",
                      json_pack("[s,s,s]", "อาหมัด บิน อิสมาอิล", "আহমদ বিন ইসমাইল", "احمد بن اسماعيل"));
  for (int st = 0; st < NSTATES; st++)
    if (emit_known(&r, &sinks[st], known, err)) goto done;

  /* The shared population: each identity in 2-4 states, spelled as each state would. */
  for (unsigned i = 0; i < SHARED_PERSONS; i++) {
    person p;
    make_person(&r, (int)pick(&r, NSTATES), &p);
    char canon[160];
    spell(&r, &p, 0, canon, sizeof canon); /* variant 0 draws nothing */
    json_t *truth = truth_person(people, canon, p.dob);
    unsigned k = 2 + pick(&r, 3), first = pick(&r, NSTATES);
    for (unsigned j = 0; j < k; j++) {
      sink *s = &sinks[(first + j) % NSTATES];
      int variant = j == 0 ? 0 : 1 + (int)pick(&r, 5);
      bool passport = chance(&r, 65), phone = chance(&r, 50);
      if (emit_person(&r, s, &p, variant, chance(&r, 30), passport, phone, NULL, NULL, err)) goto done;
      truth_record(truth, s);
    }
  }
  for (unsigned i = 0; i < SHARED_VESSELS; i++) {
    vessel v;
    make_vessel(&r, (int)pick(&r, NSTATES), &v);
    unsigned k = 2 + pick(&r, 3), first = pick(&r, NSTATES);
    for (unsigned j = 0; j < k; j++) {
      char name[48];
      const char *space = strchr(v.name, ' ');
      /* Some states drop the type prefix ("KM ", "MV ", "FV "). */
      snprintf(name, sizeof name, "%s", j > 0 && space && chance(&r, 40) && (v.flag != THA) ? space + 1 : v.name);
      if (emit_vessel(&r, &sinks[(first + j) % NSTATES], &v, name, chance(&r, 50) ? "suspect" : "witness", err))
        goto done;
    }
  }
  /* Each state's own vessels and people, up to the per-state totals. */
  for (int st = 0; st < NSTATES; st++) {
    sink *s = &sinks[st];
    while (s->nvessel < VESSELS_PER_STATE) {
      vessel *v = &s->fleet[s->nfleet++];
      make_vessel(&r, chance(&r, 85) ? st : (int)pick(&r, NSTATES), v);
      if (emit_vessel(&r, s, v, NULL, chance(&r, 30) ? "suspect" : "witness", err)) goto done;
    }
    while (s->nperson < PERSONS_PER_STATE) {
      person p;
      int nat = chance(&r, 65) ? st : (int)pick(&r, NSTATES);
      make_person(&r, nat, &p);
      const vessel *on = chance(&r, 10) ? &s->fleet[pick(&r, s->nfleet)] : NULL;
      if (emit_person(&r, s, &p, 0, chance(&r, 10), chance(&r, 80), chance(&r, 70), on, NULL, err)) goto done;
    }
  }
  rng r2 = {((uint64_t)seed << 1) ^ 0xC505C505C505ull}; /* the cross-script people's own stream */
  if (emit_cross_script(&r2, sinks, people, err)) goto done;
  for (int st = 0; st < NSTATES; st++)
    if (fb_sqlite_db_commit(sinks[st].db, err) != 0) goto done;
  char path[4096];
  snprintf(path, sizeof path, "%s/truth.json", dir);
  json_t *doc = json_pack("{s:s, s:i, s:O}", "about",
                          "Ground truth of the demo data: each entry is one invented person and the ids of "
                          "the records that denote them. Records not listed are people held by one state only.",
                          "seed", (json_int_t)seed, "people", people);
  int wrc = json_dump_file(doc, path, JSON_INDENT(1));
  json_decref(doc);
  if (wrc != 0) {
    fb_set_error(err, "cannot write %s", path);
    goto done;
  }
  rc = 0;
done:
  json_decref(people);
  for (int st = 0; st < NSTATES; st++) fb_sqlite_db_close(sinks[st].db);
  free(fleets);
  return rc;
}

int fb_demo_data_generate(const char *dir, unsigned seed, char **err) {
  return generate(dir, seed, err);
}
