import { BadUserInputError, conflict, createValidator, flushOrConflict, notFound, User, type EntityManager } from '@atrium/core';
import { Team, TeamMember } from '../entities/inboxes.ts';

const id = { type: 'string', format: 'uuid' };

const validateCreateTeam = createValidator<{ name: string }>({
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: { name: { type: 'string', minLength: 1, maxLength: 100, pattern: '\\S' } },
});

const validateMember = createValidator<{ teamId: string; userId: string }>(
  { type: 'object', additionalProperties: false, required: ['teamId', 'userId'], properties: { teamId: id, userId: id } },
  '',
);

/** A team of agents (names unique per company, whatever their case). */
export async function createTeam(em: EntityManager, companyId: string, input: unknown): Promise<Team> {
  const { name } = validateCreateTeam(input);
  return em.transactional(async (tx) => {
    const team = tx.create(Team, { companyId, name: name.trim() } as Team);
    await flushOrConflict(tx, () => conflict('A team with this name exists', { fields: { 'input.name': 'is taken' } }));
    return team;
  });
}

/** Adds an active user of the company to a team (idempotent). */
export async function addTeamMember(em: EntityManager, input: unknown): Promise<Team> {
  const { teamId, userId } = validateMember(input);
  return em.transactional(async (tx) => {
    const team = await tx.findOne(Team, { id: teamId });
    if (!team) throw notFound('Team');
    if (!(await tx.findOne(User, { id: userId, active: true }))) throw new BadUserInputError({ userId: 'is not an active user of your company' });
    await tx.execute(
      `insert into messenger_team_member (team_id, user_id, company_id) values (?, ?, ?) on conflict do nothing`,
      [team.id, userId, team.companyId],
    );
    return team;
  });
}

/** Takes a user out of a team (idempotent). */
export async function removeTeamMember(em: EntityManager, input: unknown): Promise<Team> {
  const { teamId, userId } = validateMember(input);
  return em.transactional(async (tx) => {
    const team = await tx.findOne(Team, { id: teamId });
    if (!team) throw notFound('Team');
    await tx.nativeDelete(TeamMember, { teamId: team.id, userId });
    return team;
  });
}

/** The company's teams by name. */
export const listTeams = (em: EntityManager): Promise<Team[]> => em.find(Team, {}, { orderBy: { name: 'asc', id: 'asc' } });

/** The members of a page of teams by name, in two queries whatever the page size (Team.members). */
export async function teamMembers(em: EntityManager, teamIds: readonly string[]): Promise<Map<string, User[]>> {
  const byTeam = new Map<string, User[]>(teamIds.map((teamId) => [teamId, []]));
  const members = teamIds.length ? await em.find(TeamMember, { teamId: { $in: [...byTeam.keys()] } }) : [];
  if (!members.length) return byTeam;
  const users = await em.find(User, { id: { $in: [...new Set(members.map((member) => member.userId))] } }, { orderBy: { displayName: 'asc', id: 'asc' } });
  const teamsOf = Map.groupBy(members, (member) => member.userId);
  for (const user of users) for (const member of teamsOf.get(user.id) ?? []) byTeam.get(member.teamId)!.push(user);
  return byTeam;
}
