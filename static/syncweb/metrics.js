// The Metrics tab: keeps the period's start, length and end consistent, and draws
// the daily bar chart and the weekday x hour bubble chart from their JSON views.
(function () {
  "use strict";
  const DAY = 86400000;
  const start = document.getElementById("period-start");
  const days = document.getElementById("period-days");
  const end = document.getElementById("period-end");
  const asDate = (input) => (input.value ? new Date(input.value + "T00:00:00Z") : null);
  const iso = (date) => date.toISOString().slice(0, 10);

  function recomputeEnd() {
    const first = asDate(start);
    const length = Number(days.value);
    if (first && length >= 1) end.value = iso(new Date(first.getTime() + (length - 1) * DAY));
  }
  function recomputeLength() {
    const first = asDate(start);
    const last = asDate(end);
    if (first && last && last >= first) days.value = Math.round((last - first) / DAY) + 1;
  }
  start.addEventListener("change", recomputeEnd);
  days.addEventListener("input", recomputeEnd);
  end.addEventListener("change", recomputeLength);

  // Text and grid lines in the theme's colours (Bootstrap's variables), so that the
  // charts read in dark mode as in light; redrawn when the theme changes (theme.js).
  function themeColours() {
    const style = getComputedStyle(document.documentElement);
    Chart.defaults.color = style.getPropertyValue("--bs-body-color").trim() || "#212529";
    Chart.defaults.borderColor = style.getPropertyValue("--bs-border-color-translucent").trim() || "rgba(0,0,0,0.1)";
  }
  themeColours();
  document.addEventListener("syncweb:theme", () => {
    themeColours();
    Object.values(charts).forEach((chart) => {
      Object.values(chart.options.scales || {}).forEach((scale) => {
        if (scale.ticks) scale.ticks.color = Chart.defaults.color;
        if (scale.grid) scale.grid.color = Chart.defaults.borderColor;
        if (scale.title) scale.title.color = Chart.defaults.color;
      });
      chart.update();
    });
  });

  const measure = () => Number(document.querySelector("input[name=measure]:checked").value);
  const charts = {};

  async function load(canvas) {
    const response = await fetch(canvas.dataset.url, { headers: { Accept: "application/json" } });
    return response.json();
  }

  function showMeasure() {
    const index = measure();
    Object.values(charts).forEach((chart) => {
      chart.data.datasets.forEach((dataset, i) => { dataset.hidden = i !== index; });
      chart.update();
    });
  }

  async function drawDaily() {
    const canvas = document.getElementById("daily-chart");
    const data = await load(canvas);
    data.datasets.forEach((dataset, i) => { dataset.hidden = i !== measure(); });
    charts.daily = new Chart(canvas, {
      type: "bar",
      data: data,
      options: {
        maintainAspectRatio: false,
        animation: false,
        plugins: { legend: { display: false } },
        scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
      },
    });
  }

  async function drawGrouped() {
    const canvas = document.getElementById("grouped-chart");
    const data = await load(canvas);
    const largest = Math.max(1, ...data.datasets.flatMap((d) => d.data.map((p) => p.v)));
    const colours = ["rgba(13, 110, 253, 0.5)", "rgba(25, 135, 84, 0.5)"];
    data.datasets.forEach((dataset, i) => {
      dataset.hidden = i !== measure();
      dataset.backgroundColor = colours[i];
      // The bubble's area grows with the count.
      dataset.data.forEach((point) => { point.r = 2 + 14 * Math.sqrt(point.v / largest); });
    });
    charts.grouped = new Chart(canvas, {
      type: "bubble",
      data: { datasets: data.datasets },
      options: {
        maintainAspectRatio: false,
        animation: false,
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              label: (ctx) => `${data.weekdays[ctx.raw.y - 1]} ${ctx.raw.x}:00 — ${ctx.raw.v} ${ctx.dataset.label.toLowerCase()}`,
            },
          },
        },
        scales: {
          x: {
            min: -0.5, max: 23.5, title: { display: true, text: "Hour of day" },
            afterBuildTicks: (axis) => { axis.ticks = [...Array(24).keys()].map((value) => ({ value })); },
          },
          y: {
            min: 0.5, max: 7.5, reverse: true,
            afterBuildTicks: (axis) => { axis.ticks = [1, 2, 3, 4, 5, 6, 7].map((value) => ({ value })); },
            ticks: { callback: (value) => data.weekdays[value - 1] || "" },
          },
        },
      },
    });
  }

  document.querySelectorAll("input[name=measure]").forEach((input) => input.addEventListener("change", showMeasure));
  drawDaily();
  drawGrouped();
})();
