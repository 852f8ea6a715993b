// A dependency-free horizontal bar chart: lua-persist time / wasmoon time per VM workload,
// with reference lines at 1x (as fast as wasmoon) and 3x (the target's limit).

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function renderSvg(res) {
  const rows = res.vm.map((r) => ({
    label: `${r.group === 'stdlib' ? 'stdlib: ' : ''}${r.label}`,
    x: r.ours.ok && r.wasmoon.ok ? r.ours.ms / r.wasmoon.ms : null,
    error: !r.ours.ok,
  }));
  const maxX = Math.max(4, ...rows.map((r) => r.x ?? 0)) * 1.08;
  const left = 270; const width = 820; const plotW = width - left - 70;
  const barH = 18; const gap = 8; const top = 54;
  const height = top + rows.length * (barH + gap) + 64;
  const sx = (x) => left + (x / maxX) * plotW;
  const o = [];
  o.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="13">`);
  o.push(`<rect width="${width}" height="${height}" fill="#fff"/>`);
  o.push(`<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">lua-persist time / wasmoon time (lower is better)</text>`);
  o.push(`<text x="${width / 2}" y="40" text-anchor="middle" fill="#555">median of ${res.reps} runs, ${esc(res.env.date.slice(0, 10))}, ${esc(res.env.cpu)}, Node ${esc(res.env.node)}</text>`);
  // Grid: integer ratios.
  for (let t = 0; t <= maxX; t += maxX > 12 ? 2 : 1) {
    o.push(`<line x1="${sx(t)}" y1="${top - 4}" x2="${sx(t)}" y2="${height - 56}" stroke="#eee"/>`);
    o.push(`<text x="${sx(t)}" y="${height - 42}" text-anchor="middle" fill="#555">${t}x</text>`);
  }
  rows.forEach((r, i) => {
    const y = top + i * (barH + gap);
    o.push(`<text x="${left - 8}" y="${y + barH - 4}" text-anchor="end">${esc(r.label)}</text>`);
    if (r.x === null) {
      o.push(`<text x="${left + 4}" y="${y + barH - 4}" fill="#b00">${r.error ? 'failed to run' : 'not measured'}</text>`);
      return;
    }
    const color = r.x <= 1 ? '#2e7d32' : r.x <= 3 ? '#f9a825' : '#c62828';
    o.push(`<rect x="${left}" y="${y}" width="${Math.max(1, sx(r.x) - left).toFixed(1)}" height="${barH}" fill="${color}"/>`);
    o.push(`<text x="${(sx(r.x) + 4).toFixed(1)}" y="${y + barH - 4}">${r.x.toFixed(2)}x</text>`);
  });
  [[1, '1x = as fast as wasmoon', '#1565c0'], [3, '3x = target limit (issue 6)', '#c62828']].forEach(([x, label, color], i) => {
    o.push(`<line x1="${sx(x)}" y1="${top - 6}" x2="${sx(x)}" y2="${height - 56}" stroke="${color}" stroke-width="2" stroke-dasharray="6 3"/>`);
    const lx = left + i * 260;
    o.push(`<line x1="${lx}" y1="${height - 16}" x2="${lx + 24}" y2="${height - 16}" stroke="${color}" stroke-width="2" stroke-dasharray="6 3"/>`);
    o.push(`<text x="${lx + 30}" y="${height - 12}" fill="${color}">${label}</text>`);
  });
  o.push('</svg>');
  return `${o.join('\n')}\n`;
}
