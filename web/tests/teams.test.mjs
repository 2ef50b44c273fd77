// Teams in the browser: creating a team, its header and members, its rooms in the sidebar and
// in the Team channels panel (create, auto-join, search), a member who joins the team and finds
// its auto-join room; the directory's Teams tab; converting a room to a team and back; leaving
// and deleting a team with the choice of its rooms.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openAs, createUser, login, rest, withScreenshots, ADMIN, axe } from './harness.mjs';


let server;
let browser;
let admin;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  admin = await login(server.base, ADMIN.username, ADMIN.password);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});


const roomLink = (page, name) => page.locator(`[data-testid="room-link"][data-room="${name}"]`);
const teamRoom = (page, name) => page.locator(`[data-testid="team-room"][data-room="${name}"]`);

async function openByLink(page, name) {
  await roomLink(page, name).click();
  await page.getByTestId('room-title').filter({ hasText: name }).waitFor();
}

/** A team made over REST, with rooms of its own; answers the team. */
async function teamWithRooms(name, members, roomNames) {
  const { team } = await rest(server.base, 'teams.create', { method: 'POST', auth: admin, body: { name, type: 0, members } });
  const ids = [];
  for (const roomName of roomNames) {
    const { channel } = await rest(server.base, 'channels.create', { method: 'POST', auth: admin, body: { name: roomName, members } });
    ids.push(channel._id);
  }
  if (ids.length) await rest(server.base, 'teams.addRooms', { method: 'POST', auth: admin, body: { teamId: team._id, rooms: ids } });
  return team;
}

test('a team with two rooms: the member it adds finds the auto-join room in their sidebar', async (t) => {
  await createUser(server.base, admin, 'tara', 'Tara Teammate');
  await rest(server.base, 'channels.create', { method: 'POST', auth: admin, body: { name: 'loose-ends' } });
  const owner = await openAs(browser, server.base, ADMIN.username, ADMIN.password);
  let member;
  t.after(async () => {
    await owner.context().close();
    await member?.context().close();
  });
  await withScreenshots(t.name, () => [owner, member], async () => {
    // Created from the same menu as channels.
    await owner.getByTestId('create-menu').click();
    await owner.getByTestId('new-team').click();
    await owner.getByTestId('create-team-dialog').waitFor();
    await owner.getByTestId('room-name').fill('design');
    await owner.getByTestId('create-room-submit').click();
    await owner.getByTestId('room-title').filter({ hasText: 'design' }).waitFor();
    await owner.getByTestId('team-badge').waitFor();
    await roomLink(owner, 'design').and(owner.locator('[data-team-main="true"]')).waitFor();

    // Two rooms created in the team from its Team channels panel.
    await owner.getByTestId('open-team-channels').click();
    const panel = owner.getByTestId('panel-team-channels');
    await panel.waitFor();
    await panel.getByTestId('team-new-room-name').fill('design-ui');
    await panel.getByTestId('team-new-room-submit').click();
    await teamRoom(owner, 'design-ui').waitFor();
    await panel.getByTestId('team-new-room-name').fill('design-ops');
    await panel.getByTestId('team-new-room-private').check();
    await panel.getByTestId('team-new-room-submit').click();
    await teamRoom(owner, 'design-ops').waitFor();
    const { teamInfo } = await rest(server.base, 'teams.info?teamName=design', { auth: admin });
    const listed = await rest(server.base, `teams.listRooms?teamId=${teamInfo._id}`, { auth: admin });
    const own = listed.rooms.filter((r) => !r.teamMain);
    assert.deepEqual(own.map((r) => `${r.t}:${r.name}`).sort(), ['c:design-ui', 'p:design-ops']);

    // design-ui becomes auto-join.
    assert.equal(await teamRoom(owner, 'design-ui').getByTestId('auto-join-badge').count(), 0);
    await teamRoom(owner, 'design-ui').getByTestId('team-room-auto-join').click();
    await teamRoom(owner, 'design-ui').getByTestId('auto-join-badge').waitFor();
    assert.equal(await teamRoom(owner, 'design-ops').getByTestId('auto-join-badge').count(), 0);

    // An existing room joins the team from the picker, then leaves it again.
    await panel.getByTestId('team-add-room-select').selectOption({ label: '# loose-ends' });
    await panel.getByTestId('team-add-room').click();
    await teamRoom(owner, 'loose-ends').waitFor();
    await owner.locator('[data-testid="team-rooms"][data-team="design"] [data-room="loose-ends"]').waitFor();
    await teamRoom(owner, 'loose-ends').getByTestId('team-room-remove').click();
    await teamRoom(owner, 'loose-ends').waitFor({ state: 'detached' });
    await owner.locator('[data-testid="team-rooms"] [data-room="loose-ends"]').waitFor({ state: 'detached' });
    await roomLink(owner, 'loose-ends').waitFor();

    // The panel searches the team's rooms.
    await panel.getByTestId('team-rooms-search').fill('ops');
    await teamRoom(owner, 'design-ui').waitFor({ state: 'detached' });
    await teamRoom(owner, 'design-ops').waitFor();
    await panel.getByTestId('team-rooms-search').fill('');
    await teamRoom(owner, 'design-ui').waitFor();
    await axe(owner, 'team channels panel');

    // The owner's sidebar lists both rooms under the team.
    const ownerTeamRooms = owner.locator('[data-testid="team-rooms"][data-team="design"]');
    await ownerTeamRooms.locator('[data-room="design-ui"]').waitFor();
    await ownerTeamRooms.locator('[data-room="design-ops"]').waitFor();

    // The members panel lists the team's members with their roles; the owner adds Tara.
    await owner.getByTestId('open-members').click();
    const members = owner.getByTestId('members');
    await members.locator('li[data-username="admin"] [data-testid="member-role"][data-role="owner"]').waitFor();
    await owner.getByTestId('invite-input').fill('tara');
    await owner.getByTestId('invite-submit').click();
    await members.locator('li[data-username="tara"]').waitFor();
    const teamMembers = await rest(server.base, `teams.members?teamId=${teamInfo._id}`, { auth: admin });
    assert.ok(teamMembers.members.some((m) => m.user.username === 'tara'));

    // Tara sees the team and its auto-join room, grouped under it, and not the other room.
    member = await openAs(browser, server.base, 'tara');
    const taraTeamRooms = member.locator('[data-testid="team-rooms"][data-team="design"]');
    await roomLink(member, 'design').waitFor();
    await taraTeamRooms.locator('[data-room="design-ui"]').waitFor();
    assert.equal(await roomLink(member, 'design-ops').count(), 0);
    // A team room links back to its team.
    await openByLink(member, 'design-ui');
    await member.getByTestId('room-team-link').click();
    await member.getByTestId('room-title').filter({ hasText: 'design' }).waitFor();
    await member.getByTestId('team-badge').waitFor();
    // A member without team rights sees the rooms but not the owner's actions.
    await member.getByTestId('open-team-channels').click();
    await teamRoom(member, 'design-ui').getByTestId('team-room-open').waitFor();
    assert.equal(await member.getByTestId('team-room-auto-join').count(), 0);
    assert.equal(await member.getByTestId('team-room-remove').count(), 0);
    assert.equal(await member.getByTestId('team-new-room-name').count(), 0);

    // In Arabic the team's rooms are indented from the right, and the panel speaks Arabic.
    await member.getByTestId('account-menu').click();
    await member.getByTestId('lang-ar').click();
    await member.waitForFunction(() => document.documentElement.dir === 'rtl' && document.documentElement.lang === 'ar');
    await member.keyboard.press('Escape');
    await member.getByRole('heading', { name: 'قنوات الفريق' }).waitFor();
    const main = await roomLink(member, 'design').boundingBox();
    const nested = await taraTeamRooms.locator('[data-room="design-ui"]').boundingBox();
    assert.ok(main && nested, 'both links are on screen');
    assert.ok(nested.x + nested.width < main.x + main.width - 4, `indented from the right: ${JSON.stringify({ main, nested })}`);
    await axe(member, 'team panel, right to left');

    // The owner makes Tara a team moderator (teams.updateMember), then a member again.
    const taraRole = owner.locator('li[data-username="tara"]').getByTestId('team-member-role');
    await taraRole.selectOption('moderator');
    await members.locator('li[data-username="tara"] [data-testid="member-role"][data-role="moderator"]').waitFor();
    const promoted = await rest(server.base, `teams.members?teamId=${teamInfo._id}`, { auth: admin });
    assert.deepEqual(promoted.members.find((m) => m.user.username === 'tara').roles, ['moderator']);
    await taraRole.selectOption('member');
    await members.locator('li[data-username="tara"] [data-testid="member-role"]').waitFor({ state: 'detached' });

    // The owner takes Tara out of the team: the team leaves her sidebar.
    await owner.locator('li[data-username="tara"]').getByTestId('remove-team-member').click();
    await members.locator('li[data-username="tara"]').waitFor({ state: 'detached' });
    await roomLink(member, 'design').waitFor({ state: 'detached' });
    assert.deepEqual(member.problems, []);
    assert.deepEqual(owner.problems, []);
  });
});

test('the directory lists teams; a user opens one and joins it', async (t) => {
  await createUser(server.base, admin, 'uma', 'Uma Outsider');
  await teamWithRooms('research', [], ['research-lab']);
  const page = await openAs(browser, server.base, 'uma');
  t.after(() => page.context().close());
  await withScreenshots(t.name, () => [page], async () => {
    await page.getByTestId('create-menu').click();
    await page.getByTestId('open-directory').click();
    const dialog = page.getByTestId('directory-dialog');
    await dialog.waitFor();
    await dialog.getByTestId('directory-tab-teams').click();
    const entry = dialog.locator('[data-testid="directory-team"][data-room="research"]');
    await entry.waitFor();
    assert.equal(await dialog.getByTestId('directory-room').count(), 0, 'only teams on the Teams tab');
    await axe(page, 'directory teams tab');
    await entry.click();
    await page.getByTestId('join-room').click();
    await page.getByTestId('room-title').filter({ hasText: 'research' }).waitFor();
    await page.getByTestId('team-badge').waitFor();
    await roomLink(page, 'research').waitFor();
    // The Teams tab searches.
    await page.getByTestId('create-menu').click();
    await page.getByTestId('open-directory').click();
    await dialog.getByTestId('directory-tab-teams').click();
    await entry.waitFor();
    await page.locator('#directory-input').fill('nothing-like-it');
    await entry.waitFor({ state: 'detached' });
  });
});

test('a channel becomes a team and back; a team is left and deleted with the rooms chosen', async (t) => {
  await createUser(server.base, admin, 'vic', 'Vic Visitor');
  await rest(server.base, 'channels.create', { method: 'POST', auth: admin, body: { name: 'convertible' } });
  await teamWithRooms('club', ['vic'], ['club-chat', 'club-news']);
  await teamWithRooms('doomed', [], ['doomed-room', 'doomed-keep']);
  const owner = await openAs(browser, server.base, ADMIN.username, ADMIN.password);
  const vic = await openAs(browser, server.base, 'vic');
  t.after(async () => {
    await owner.context().close();
    await vic.context().close();
  });
  await withScreenshots(t.name, () => [owner, vic], async () => {
    // Channel → team, from the room menu, through the client's own dialog.
    await openByLink(owner, 'convertible');
    assert.equal(await owner.getByTestId('team-badge').count(), 0);
    await owner.getByTestId('room-menu').click();
    await owner.getByTestId('convert-to-team').click();
    await owner.getByTestId('team-action-dialog').waitFor();
    await owner.getByTestId('team-action-confirm').click();
    await owner.getByTestId('team-badge').waitFor();
    await rest(server.base, 'teams.info?teamName=convertible', { auth: admin });

    // Team → channel.
    await owner.getByTestId('room-menu').click();
    await owner.getByTestId('convert-to-channel').click();
    await owner.getByTestId('team-action-confirm').click();
    await owner.getByTestId('team-badge').waitFor({ state: 'detached' });
    await assert.rejects(rest(server.base, 'teams.info?teamName=convertible', { auth: admin }));

    // Vic leaves the club and, with it, one of its rooms.
    await openByLink(vic, 'club');
    await vic.getByTestId('room-menu').click();
    await vic.getByTestId('leave-room').click();
    const leaving = vic.getByTestId('team-action-dialog');
    await leaving.locator('[data-testid="team-action-room"][data-room="club-chat"] input').check();
    await leaving.locator('[data-testid="team-action-room"][data-room="club-news"]').waitFor();
    await vic.getByTestId('team-action-confirm').click();
    await roomLink(vic, 'club').waitFor({ state: 'detached' });
    await roomLink(vic, 'club-chat').waitFor({ state: 'detached' });
    await roomLink(vic, 'club-news').waitFor();

    // The owner deletes a team and one of its rooms; the other stays, outside any team.
    await openByLink(owner, 'doomed');
    await owner.getByTestId('room-menu').click();
    await owner.getByTestId('delete-team').click();
    const deleting = owner.getByTestId('team-action-dialog');
    await deleting.locator('[data-testid="team-action-room"][data-room="doomed-room"] input').check();
    await deleting.locator('[data-testid="team-action-room"][data-room="doomed-keep"]').waitFor();
    await owner.getByTestId('team-action-confirm').click();
    await roomLink(owner, 'doomed').waitFor({ state: 'detached' });
    await roomLink(owner, 'doomed-room').waitFor({ state: 'detached' });
    await roomLink(owner, 'doomed-keep').waitFor();
    await assert.rejects(rest(server.base, 'channels.info?roomName=doomed-room', { auth: admin }));
    const kept = await rest(server.base, 'channels.info?roomName=doomed-keep', { auth: admin });
    assert.equal(kept.channel.teamId, undefined);
    assert.deepEqual(owner.problems, []);
    assert.deepEqual(vic.problems, []);
  });
});
