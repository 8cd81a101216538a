// The organiser's semester view. Every string that comes from the server (learner ids and
// names, workshop and exercise names) is put on the page with textContent or setAttribute,
// never parsed as HTML. Plots and the CSV are fetched with the token, never by URL.
"use strict";

const base = location.pathname.slice(0, location.pathname.lastIndexOf("/workshop/semester"));
const api = `${base}/workshop/api/semester`;
const HARD_BELOW = 0.3;
const WEAK_DISCRIMINATION_BELOW = 0.2;

const percent = (share) => (share === null ? "\u2013" : `${Math.round(share * 100)}%`);
const number = (value) => (value === null ? "\u2013" : String(Math.round(value * 100) / 100));
const day = (iso) => (iso ? iso.slice(0, 10) : "\u2013");

function learnerName(learner) {
  return [learner.first_name, learner.last_name].filter(Boolean).join(" ");
}

function table(id, headings, rows) {
  const node = element("table", null, { id });
  const head = node.createTHead().insertRow();
  for (const heading of headings) head.appendChild(element("th", heading));
  const body = node.createTBody();
  for (const cells of rows) {
    const row = body.insertRow();
    for (const cell of cells) row.appendChild(cell);
  }
  $(id).replaceWith(node);
  return node;
}

function renderWorkshops(view) {
  table("workshops", ["workshop", "held", "present", "submitted", "completion", "mean score"],
    view.workshops.map((w) => [
      element("td", w.name, { class: "learner", "data-workshop": w.name }),
      element("td", day(w.held_at)),
      element("td", `${w.present}/${w.roster}`, { class: "number" }),
      element("td", `${w.submitted}/${w.roster}`, { class: "number" }),
      element("td", percent(w.completion), { class: "number" }),
      element("td", w.mean_score === null ? "\u2013" : `${number(w.mean_score)}/${number(w.max_score)}`, { class: "number" }),
    ]));
}

function renderExercises(view) {
  table("exercises", ["workshop", "notebook", "exercise", "points", "submitted", "difficulty", "discrimination", "passed in Check"],
    view.exercises.map((e) => {
      const hard = e.difficulty !== null && e.difficulty < HARD_BELOW;
      const weak = e.discrimination !== null && e.discrimination < WEAK_DISCRIMINATION_BELOW;
      return [
        element("td", e.workshop, { class: "learner" }),
        element("td", e.notebook, { class: "learner" }),
        element("td", e.exercise, { class: "learner", "data-exercise": e.exercise }),
        element("td", number(e.max_points), { class: "number" }),
        element("td", e.submitted, { class: "number" }),
        element("td", percent(e.difficulty), { class: hard ? "number weak" : "number", title: `${e.full_marks} of ${e.submitted} with full points` }),
        element("td", e.discrimination === null ? "\u2013" : e.discrimination.toFixed(2), { class: weak ? "number weak" : "number" }),
        element("td", e.passed_in_check, { class: "number" }),
      ];
    }));
}

function renderLearners(view) {
  const headings = ["learner", "name", ...view.workshops.map((w) => w.name), "total"];
  table("learners", headings, view.learners.map((learner) => [
    element("td", learner.id, { class: "learner", "data-learner": learner.id }),
    element("td", learnerName(learner), { class: "learner", "data-learner": learner.id }),
    ...learner.workshops.map((w) => {
      const score = w.score === null ? "\u2013" : `${number(w.score)}/${number(w.max_score)}`;
      return element("td", `${w.attended ? "\u2713" : "\u2013"} ${w.checks}/${w.exercises_passed_in_check} ${score}`, {
        class: w.attended ? "present" : "absent",
        "data-learner": learner.id,
        "data-workshop": w.workshop,
        title: `${w.attended ? "present" : "absent"}, ${w.checks} Checks, ${w.exercises_passed_in_check} exercises passed in Check, ${w.submitted ? "submitted" : "not submitted"}`,
      });
    }),
    element("td", `${number(learner.score)}/${number(learner.max_score)}`, { class: "number" }),
  ]));
}

function render(view) {
  $("course").textContent = view.course;
  document.title = `Semester view: ${view.course}`;
  $("totals").textContent = `${view.workshops.length} workshops, ${view.roster} learners on the roster.`;
  renderWorkshops(view);
  renderExercises(view);
  renderLearners(view);
}

async function authorised(url, token) {
  const response = await fetch(url, { headers: { Authorization: `Bearer ${token}` }, cache: "no-store" });
  if (response.status === 401 || response.status === 403) {
    const problem = await response.json().catch(() => ({ error: "token refused" }));
    askToken(problem.error);
    return null;
  }
  if (!response.ok) {
    const problem = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
    throw new Error(problem.error);
  }
  return response;
}

function dataUrl(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

async function loadPlot(name, token) {
  const response = await authorised(`${api}/plots/${name}.png`, token);
  if (response) $(`plot-${name}`).src = await dataUrl(await response.blob());
}

async function load(token) {
  setStatus("connecting", "loading\u2026");
  try {
    const response = await authorised(api, token);
    if (!response) return;
    render(await response.json());
    $("login").hidden = true;
    $("semester").hidden = false;
    await Promise.all(["attendance", "scores"].map((name) => loadPlot(name, token)));
    setStatus("live", `updated ${new Date().toLocaleTimeString()}`);
  } catch (error) {
    setStatus("error", error.message || "server unreachable");
  }
}

async function download(token) {
  try {
    const response = await authorised(`${api}/export.csv`, token);
    if (!response) return;
    const url = URL.createObjectURL(await response.blob());
    const link = element("a", null, { href: url, download: "semester.csv" });
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (error) {
    setStatus("error", error.message || "server unreachable");
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("json-url").textContent = api;
  $("login").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $("token").value.trim();
    $("token").value = "";
    if (!token) return;
    sessionStorage.setItem(TOKEN_KEY, token);
    $("login").hidden = true;
    load(token);
  });
  $("refresh").addEventListener("click", () => load(sessionStorage.getItem(TOKEN_KEY)));
  $("download").addEventListener("click", () => download(sessionStorage.getItem(TOKEN_KEY)));
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) load(token);
  else askToken();
});
