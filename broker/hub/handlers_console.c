/* GET / — a minimal web console: one self-contained page that asks for a token and
 * runs searches against this hub's API (no external assets). */
#include <string.h>

#include "core/vocab.h"
#include "hub/hub.h"

/* The select boxes are generated from the one vocabulary at compile time. */
#define OPTION_(id, name) "<option>" name

static const char page[] =
    "<!doctype html><html lang=en><head><meta charset=utf-8><title>fedbroker</title>"
    "<meta name=viewport content='width=device-width,initial-scale=1'>"
    "<style>body{font:15px system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}"
    "textarea,input,select{width:100%;box-sizing:border-box;margin:.2rem 0 .6rem;font:inherit}"
    "pre{background:#f4f4f4;padding:1rem;overflow:auto}button{font:inherit;padding:.4rem 1rem}"
    "label{font-weight:600}</style></head><body>"
    "<h1>fedbroker</h1><p>Federated search across the participating states' national systems. "
    "Each state's own rules decide what it shares.</p>"
    "<label>Bearer token</label><input id=tok placeholder='paste a token from `fedbroker demo`'>"
    "<label>Name / document / phone / vessel</label>"
    "<input id=name placeholder='name'><input id=doc placeholder='document number'>"
    "<label>Purpose</label><select id=purpose>" FB_PURPOSE_MAP(OPTION_) "</select>"
    "<label>Priority</label><select id=priority>" FB_PRIORITY_MAP(OPTION_) "</select>"
    "<label>Legal basis</label><select id=basis>" FB_LEGAL_BASIS_MAP(OPTION_) "</select>"
    "<label>Justification</label><textarea id=just rows=2>Suspected facilitator in a people smuggling case</textarea>"
    "<button id=go>Search</button> <button id=states>States</button><pre id=out></pre>"
    "<script>"
    "const $=id=>document.getElementById(id);$('priority').value='urgent';"
    "async function call(method,path,body){const r=await fetch(path,{method,headers:{'authorization':'Bearer '+$('tok').value.trim(),"
    "'content-type':'application/json'},body:body?JSON.stringify(body):undefined});"
    "$('out').textContent=r.status+'\\n'+JSON.stringify(await r.json(),null,2);}"
    "$('go').onclick=()=>{const subject={};if($('name').value)subject.name=$('name').value;"
    "if($('doc').value)subject.document=$('doc').value;"
    "call('POST','/v1/search',{subject,purpose:$('purpose').value,priority:$('priority').value,"
    "legal_basis:$('basis').value,justification:$('just').value});};"
    "$('states').onclick=()=>call('GET','/v1/states');"
    "</script></body></html>\n";

static void console(fb_request *req, void *ctx) {
  (void)ctx;
  fb_response_header(req, "content-security-policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'");
  fb_respond(req, 200, "text/html; charset=utf-8", page, sizeof page - 1);
}

void fb_hub_routes_console(fb_hub *hub) { fb_router_add(hub->router, "GET", "/", console, hub); }
