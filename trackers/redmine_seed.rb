# Run once per template database by trackers/redmine.py, as
#   bundle exec rails runner redmine_seed.rb   (RAILS_ENV=production, a private instance)
# It migrates the empty database, loads Redmine's default data in English (trackers,
# statuses, priorities, roles, workflows) and adds what the live tests use. Names,
# passwords and API keys come from SEED_* variables; the ids it made are written as
# JSON to SEED_OUTPUT. Booting Rails once for all of it is what keeps a cold start short.
require 'json'

ActiveRecord::Tasks::DatabaseTasks.migrate
ActiveRecord::Base.descendants.each(&:reset_column_information)
Redmine::DefaultData::Loader.load('en')

Setting.rest_api_enabled = '1'
Setting.login_required = '1' # a wrong API key is then a 401, not an anonymous reader
Setting.default_language = 'en'

def fixed_api_key(user, key)
  user.api_key # creates the token
  user.api_token.update_columns(value: key)
end

admin = User.find_by_login!('admin')
admin.password = admin.password_confirmation = ENV.fetch('SEED_ADMIN_PASSWORD')
admin.must_change_passwd = false
admin.language = 'en'
admin.save!
fixed_api_key(admin, ENV.fetch('SEED_ADMIN_API_KEY'))

trackers = Tracker.sorted.to_a
field = IssueCustomField.create!(
  name: ENV.fetch('SEED_CUSTOM_FIELD'), field_format: 'string', is_for_all: true, is_filter: true,
  visible: true, trackers: trackers
)

project = Project.new(name: ENV.fetch('SEED_PROJECT_NAME'), identifier: ENV.fetch('SEED_PROJECT'), is_public: true)
project.enabled_module_names = Redmine::AccessControl.available_project_modules.map(&:to_s)
project.trackers = trackers
project.save!

user = User.new(firstname: 'Tess', lastname: 'Tester', mail: 'tester@example.invalid', language: 'en')
user.login = ENV.fetch('SEED_USER_LOGIN')
user.password = user.password_confirmation = ENV.fetch('SEED_USER_PASSWORD')
user.must_change_passwd = false
user.save!
fixed_api_key(user, ENV.fetch('SEED_USER_API_KEY'))

developer = Role.find_by!(name: 'Developer') # adds and edits issues, can be assigned
manager = Role.find_by!(name: 'Manager')
Member.create!(project: project, principal: user, roles: [developer])
Member.create!(project: project, principal: admin, roles: [manager])

File.write(ENV.fetch('SEED_OUTPUT'), JSON.generate(
  project_id: project.id, custom_field_id: field.id, admin_id: admin.id, user_id: user.id,
  developer_role_id: developer.id, manager_role_id: manager.id, tracker_ids: trackers.map(&:id),
  module_names: project.enabled_module_names
))
