; Inno Setup 6 script: the per-user installer for Windows (no administrator rights).
; Built by installer/windows/build.ps1 after PyInstaller has made dist\kodomo-desktop\:
;   ISCC.exe /DAppVersion=0.1.0 installer\windows\kodomo-desktop.iss   →   dist\kodomo-desktop-setup-0.1.0.exe
; One file to copy into a closed network (LGWAN 分離) and run: see docs/INSTALL.md.
;
; The program goes to %LOCALAPPDATA%\Programs\KodomoDesktop (the per-user Programs folder), the Start-menu
; entries to the user's own Start menu, the uninstaller to 設定 > アプリ. The app keeps its data and settings in
; %LOCALAPPDATA%\KodomoDesktop (kodomo_desktop/core/platform.py) — not here, and the uninstaller leaves them:
; an encrypted database is never deleted by removing the program.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#define AppName "Kodomo Desktop"
#define AppExe "kodomo-desktop.exe"
#define SourceDir "..\..\dist\kodomo-desktop"

[Setup]
AppId={{6C1F4F0E-3B7D-4E8A-9B52-5D2A7C0E9A41}
AppName={#AppName}
AppVerName={#AppName} {#AppVersion}
AppVersion={#AppVersion}
AppPublisher=Kodomo Desktop
AppComments=こどもデータ連携（オフライン・暗号化）
PrivilegesRequired=lowest
DefaultDirName={userpf}\KodomoDesktop
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
DisableDirPage=auto
UsePreviousAppDir=yes
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
OutputDir=..\..\dist
OutputBaseFilename=kodomo-desktop-setup-{#AppVersion}
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
UninstallDisplayName={#AppName}
UninstallDisplayIcon={app}\{#AppExe}
CloseApplications=yes
#if FileExists(AddBackslash(SourcePath) + "kodomo-desktop.ico")
SetupIconFile=kodomo-desktop.ico
#endif

[Languages]
Name: "japanese"; MessagesFile: "compiler:Languages\Japanese.isl"
Name: "english"; MessagesFile: "compiler:Default.isl"

[CustomMessages]
japanese.SelfTest=Kodomo Desktop 自己診断
english.SelfTest=Kodomo Desktop self-test
japanese.Launch=Kodomo Desktop を起動する
english.Launch=Start Kodomo Desktop

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "{#SourceDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[InstallDelete]
; an upgrade replaces the bundle whole: no library of an older version stays behind
Type: filesandordirs; Name: "{app}\_internal"

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\{#AppExe}"; WorkingDir: "{userdocs}"
Name: "{group}\{cm:SelfTest}"; Filename: "{app}\{#AppExe}"; Parameters: "--self-test"; WorkingDir: "{userdocs}"
Name: "{group}\{cm:UninstallProgram,{#AppName}}"; Filename: "{uninstallexe}"
Name: "{userdesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; WorkingDir: "{userdocs}"; Tasks: desktopicon

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:Launch}"; Flags: nowait postinstall skipifsilent

[UninstallDelete]
; only what the installer put in {app}; %LOCALAPPDATA%\KodomoDesktop (databases, backups, settings) is kept
Type: filesandordirs; Name: "{app}\_internal"
