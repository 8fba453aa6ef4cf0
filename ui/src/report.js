// The report's chart: the per-day figures drawn by Chart.js (bundled, served by Candor itself).
// Suppressed small cells arrive as null and are left out, as the table shows them as "<5".
import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, Tooltip } from "chart.js";
import { readData } from "../lib/studio.js";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip);

const COLOURS = { sent: "#0b5cad", delivered: "#1d6b35", bounced: "#a1261a", clicked: "#8a5300", unsubscribed: "#5b3a8c", complained: "#4d5560" };
const data = readData("report-data");
const canvas = document.getElementById("report-chart");
if (canvas && data && data.days.length) {
  new Chart(canvas, {
    type: "bar",
    data: {
      labels: data.days,
      datasets: Object.entries(data.series).map(([name, values]) => ({ label: name, data: values, backgroundColor: COLOURS[name] })),
    },
    options: { maintainAspectRatio: false, animation: false, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
  });
}
