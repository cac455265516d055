const fs=require("fs");const f=fs.readdirSync(".").find(x=>x.endsWith(".cpuprofile"));const p=JSON.parse(fs.readFileSync(f));
const byId=new Map(p.nodes.map(n=>[n.id,n]));const self=new Map();
const dt=p.timeDeltas;const counts=new Map();p.samples.forEach((s,i)=>counts.set(s,(counts.get(s)||0)+(dt[i]||0)));
const key=n=>{const u=n.callFrame.url.replace(/.*node_modules\//,"nm/").replace(/.*\/work\/main\//,"");return u.split("/").slice(0,3).join("/")||("("+n.callFrame.functionName+")")};
const fk=n=>n.callFrame.functionName+" "+n.callFrame.url.replace(/.*node_modules\//,"nm/").replace(/.*\/work\/main\//,"")+":"+n.callFrame.lineNumber;
const agg=new Map(),agg2=new Map();for(const [id,t] of counts){const n=byId.get(id);agg.set(key(n),(agg.get(key(n))||0)+t);agg2.set(fk(n),(agg2.get(fk(n))||0)+t)}
const tot=[...counts.values()].reduce((a,b)=>a+b,0);console.log("total ms",(tot/1000).toFixed(0));
for(const [k,v] of [...agg].sort((a,b)=>b[1]-a[1]).slice(0,20))console.log((v/1000).toFixed(1).padStart(8),k);
console.log("---");for(const [k,v] of [...agg2].sort((a,b)=>b[1]-a[1]).slice(0,30))console.log((v/1000).toFixed(1).padStart(8),k);
