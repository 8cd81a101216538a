// The organiser's live board. Every string that comes from the server (learner ids and names,
// exercise ids) is put on the page with textContent or setAttribute, never parsed as HTML.
"use strict";

const RETRY_MS = 2000;
const parts = location.pathname.split("/");
const workshop = decodeURIComponent(parts[parts.length - 1] || parts[parts.length - 2]);
const base = location.pathname.slice(0, location.pathname.lastIndexOf("/workshop/board/"));
const streamUrl = `${base}/workshop/api/board/${encodeURIComponent(workshop)}/stream`;
const jsonUrl = `${base}/workshop/api/board/${encodeURIComponent(workshop)}`;

function learnerLabel(learner) {
  return learner.name ? `${learner.name} (${learner.id})` : learner.id;
}

function exerciseLabel(exercise, several) {
  return several ? `${exercise.notebook}: ${exercise.exercise}` : exercise.exercise;
}

function render(board) {
  const several = new Set(board.exercises.map((e) => e.notebook)).size > 1;
  const stuck = new Set(board.stuck.map((s) => `${s.learner}\u0000${s.notebook}\u0000${s.exercise}`));

  const table = element("table", null, { id: "grid" });
  const head = table.createTHead().insertRow();
  head.appendChild(element("th", "learner", { class: "learner" }));
  head.appendChild(element("th", "passed"));
  for (const exercise of board.exercises) {
    head.appendChild(element("th", exerciseLabel(exercise, several), { title: `${exercise.max_points} points` }));
  }
  const body = table.createTBody();
  for (const learner of board.learners) {
    const row = body.insertRow();
    row.className = learner.present ? "present" : "absent";
    row.setAttribute("data-learner", learner.id);
    row.appendChild(element("td", learnerLabel(learner), { class: "learner" }));
    row.appendChild(element("td", `${learner.passed}/${learner.cells.length}`));
    for (const cell of learner.cells) {
      const isStuck = stuck.has(`${learner.id}\u0000${cell.notebook}\u0000${cell.exercise}`);
      const text = cell.state === "not-started" ? "" : (cell.state === "passed" ? "\u2713 " : "\u2717 ") + cell.attempts;
      const td = element("td", text, {
        class: isStuck ? "stuck" : cell.state,
        "data-learner": learner.id,
        "data-exercise": cell.exercise,
        "data-state": cell.state,
        "data-attempts": String(cell.attempts),
        title: `${cell.state}, ${cell.attempts} attempt(s)`,
      });
      row.appendChild(td);
    }
  }
  const foot = table.createTFoot().insertRow();
  foot.appendChild(element("td", "pass rate", { class: "learner" }));
  foot.appendChild(element("td", ""));
  for (const exercise of board.exercises) {
    foot.appendChild(element("td", `${Math.round(exercise.pass_rate * 100)}%`, {
      "data-exercise": exercise.exercise,
      title: `${exercise.passed} passed, ${exercise.attempted} attempted, ${exercise.stuck} stuck`,
    }));
  }
  $("grid").replaceWith(table);

  const list = element("ul", null, { id: "stuck" });
  for (const entry of board.stuck) {
    const who = entry.name ? `${entry.name} (${entry.learner})` : entry.learner;
    list.appendChild(element("li", `${who}: ${exerciseLabel(entry, several)}, ${entry.failed_attempts} failed Checks`, {
      "data-learner": entry.learner,
      "data-exercise": entry.exercise,
    }));
  }
  if (!board.stuck.length) list.appendChild(element("li", "nobody"));
  $("stuck").replaceWith(list);

  const a = board.attendance;
  $("attendance").textContent = `Attendance today: ${a.present} of ${a.roster} learners have checked an exercise.`;
  setStatus("live", `live, updated ${new Date().toLocaleTimeString()}`);
  document.body.dataset.generatedAt = board.generated_at;
}

async function follow(token) {
  let response;
  try {
    response = await fetch(streamUrl, { headers: { Authorization: `Bearer ${token}` }, cache: "no-store" });
  } catch (error) {
    return retry(token, "server unreachable");
  }
  if (response.status === 401 || response.status === 403) {
    const problem = await response.json().catch(() => ({ error: "token refused" }));
    return askToken(problem.error);
  }
  if (!response.ok) {
    const problem = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
    setStatus("error", problem.error);
    return;
  }
  $("login").hidden = true;
  $("board").hidden = false;
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let name = "message";
        const data = [];
        for (const line of frame.split("\n")) {
          if (line.startsWith("event:")) name = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
        }
        if (name === "board" && data.length) render(JSON.parse(data.join("\n")));
      }
    }
  } catch (error) {
    // The connection dropped; reconnect below.
  }
  retry(token, "connection lost");
}

function retry(token, why) {
  setStatus("reconnecting", `${why}; reconnecting\u2026`);
  setTimeout(() => follow(token), RETRY_MS);
}

document.addEventListener("DOMContentLoaded", () => {
  $("workshop").textContent = workshop;
  $("json-url").textContent = jsonUrl;
  document.title = `Session board: ${workshop}`;
  $("login").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $("token").value.trim();
    $("token").value = "";
    if (!token) return;
    sessionStorage.setItem(TOKEN_KEY, token);
    $("login").hidden = true;
    setStatus("connecting", "connecting\u2026");
    follow(token);
  });
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) follow(token);
  else askToken();
});
