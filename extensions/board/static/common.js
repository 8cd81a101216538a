// Shared by the organiser pages: the token kept for this browser session, DOM helpers that
// only ever set text (never HTML), the status line and the login form.
"use strict";

const TOKEN_KEY = "workshop-board-organiser-token";

const $ = (id) => document.getElementById(id);

function element(tag, text, attributes) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
  return node;
}

function setStatus(state, text) {
  const status = $("status");
  status.dataset.state = state;
  status.textContent = text;
}

// Forget the token, hide the page's <main> and show the login form with *message*.
function askToken(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  document.querySelector("main").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message || "";
  setStatus("idle", "not connected");
  $("token").focus();
}
