// The learner's join page: trade the token for a personal copy of the workshop (a zip).
// Messages from the server are shown with textContent only.
"use strict";

const parts = location.pathname.split("/");
const workshop = decodeURIComponent(parts[parts.length - 1] || parts[parts.length - 2]);
const base = location.pathname.slice(0, location.pathname.lastIndexOf("/workshop/join/"));
const $ = (id) => document.getElementById(id);
const REFUSED = {
  401: "This token was not accepted. Check it for typing mistakes, or ask the presenter for your token (a new one replaces the old).",
  403: "This is not a learner's token. Use the token the presenter gave you for this session.",
  404: "This board has no such workshop. Check the address with the presenter.",
};

function filenameOf(response) {
  const header = response.headers.get("Content-Disposition") || "";
  const match = /filename="([^"]+)"/.exec(header);
  return match ? match[1] : `${workshop}.zip`;
}

async function download(token) {
  $("message").textContent = "Preparing your copy\u2026";
  let response;
  try {
    response = await fetch(`${base}/workshop/api/join/${encodeURIComponent(workshop)}`, {
      headers: { Authorization: `Bearer ${token}` },
      cache: "no-store",
    });
  } catch (error) {
    $("message").textContent = "The session server cannot be reached; check the address.";
    return;
  }
  if (!response.ok) {
    const problem = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
    $("message").textContent = REFUSED[response.status] || problem.error;
    $("message").className = "error";
    return;
  }
  $("message").className = "";
  const name = filenameOf(response);
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
  $("message").textContent = "Downloaded.";
  $("filename").textContent = name;
  $("folder").textContent = workshop;
  $("steps").hidden = false;
}

document.addEventListener("DOMContentLoaded", () => {
  $("workshop").textContent = workshop;
  document.title = `Join the session: ${workshop}`;
  $("join").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $("token").value.trim();
    if (token) download(token);
  });
});
