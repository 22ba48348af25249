// The console's page logic: sign-in, the token on every request, views by #hash, errors shown.
// The token lives in this tab's sessionStorage only; it is sent as a header, never in a URL.
(() => {
  "use strict";

  const TOKEN_KEY = "tao-dividends.console.token";
  const ROUTES = [
    [/^#\/trades\/([A-Za-z0-9._:-]{1,64})$/, (m) => "/console/views/trades/" + encodeURIComponent(m[1]), "trades"],
    [/^#\/trades$/, () => "/console/views/trades", "trades"],
    [/^#\/streams$/, () => "/console/views/streams", "streams"],
    [/^#\/safety$/, () => "/console/views/safety", "safety"],
  ];
  // How each refusal reads in the notice; the API's message follows.
  const KINDS = { 403: "Refused", 404: "Not found", 422: "Invalid input", 429: "Too many requests" };
  const byId = (id) => document.getElementById(id);
  const token = () => sessionStorage.getItem(TOKEN_KEY);

  function notify(text, kind) {
    const notice = byId("notice");
    notice.textContent = text;
    notice.className = kind || "";
  }

  function setSignedIn(signedIn) {
    byId("sign-in-panel").hidden = signedIn;
    for (const id of ["view", "nav", "identity", "sign-out"]) byId(id).hidden = !signedIn;
  }

  function signOut(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    setSignedIn(false);
    byId("view").innerHTML = "";
    byId("identity").innerHTML = "";
    byId("sign-in-error").textContent = message || "";
    byId("token").focus();
  }

  function route() {
    const hash = location.hash || "#/trades";
    for (const [pattern, url, view] of ROUTES) {
      const match = hash.match(pattern);
      if (match) {
        for (const link of byId("nav").querySelectorAll("a")) {
          if (link.dataset.view === view) link.setAttribute("aria-current", "page");
          else link.removeAttribute("aria-current");
        }
        notify("");
        htmx.ajax("GET", url(match), { source: "#view", target: "#view", swap: "innerHTML" });
        return;
      }
    }
    location.hash = "#/trades";
  }

  function checkToken() {
    htmx.ajax("GET", "/console/session", { source: "#identity", target: "#identity", swap: "innerHTML" });
  }

  document.body.addEventListener("htmx:configRequest", (event) => {
    const current = token();
    if (current) event.detail.headers["Authorization"] = "Bearer " + current;
    // Empty filter fields mean "any": they are not sent at all.
    const form = event.detail.formData;
    for (const key of Array.from(form.keys())) if (form.get(key) === "") form.delete(key);
  });

  document.body.addEventListener("htmx:afterRequest", (event) => {
    if (event.detail.elt.id === "identity" && event.detail.successful) {
      setSignedIn(true);
      byId("sign-in-error").textContent = "";
      route();
    }
  });

  document.body.addEventListener("htmx:responseError", (event) => {
    const xhr = event.detail.xhr;
    let error = { message: "the gateway answered " + xhr.status, field: null };
    try {
      error = JSON.parse(xhr.responseText).error || error;
    } catch (_) {
      // not the API's error body: keep the status
    }
    if (xhr.status === 401 || event.detail.elt.id === "identity") {
      signOut("Token refused: " + error.message + ".");
      return;
    }
    const kind = KINDS[xhr.status] || (xhr.status >= 500 ? "Unavailable" : "Error");
    notify(kind + ": " + error.message + (error.field ? " (" + error.field + ")" : "") + ".", "error");
  });

  document.body.addEventListener("htmx:sendError", () => {
    notify("The gateway did not answer; the page tries again on its next refresh.", "error");
  });

  byId("sign-in").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = byId("token");
    const value = input.value.trim();
    input.value = "";
    if (!value) return;
    sessionStorage.setItem(TOKEN_KEY, value);
    checkToken();
  });

  byId("sign-out").addEventListener("click", () => signOut("Signed out."));
  window.addEventListener("hashchange", () => { if (token()) route(); });

  if (token()) checkToken();
  else signOut("");
})();
